"""Cases (市民诉求 / 网格化案件): rules, the closed-loop workflow, queries, metrics and reminders."""
