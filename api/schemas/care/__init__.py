"""Request and answer schemas of elder care, by part: roster, visits, devices, alarms."""
