"""SLAs: policies, calendars and business time, the timers and their deadlines."""
