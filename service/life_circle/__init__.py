"""The 15-minute community life circle (15分钟社区生活圈): facilities, walking times,
"open now", coverage (覆盖率) per estate and street, import and export."""
