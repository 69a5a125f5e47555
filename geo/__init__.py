"""Pure geo core: fixes in, verdicts/progress/ETA/events out. No I/O, no asyncio."""
