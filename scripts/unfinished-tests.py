"""Names the tests a swift-testing log shows as started and never passed or failed (scripts/test.sh's watchdog)."""
import re
import sys

started, ended = [], set()
for line in open(sys.argv[1], errors="replace"):
    match = re.search(r"Test (\S+?\(.*?\))(?: with \d+ test cases?)? (started|passed|failed)", line)
    if match:
        (started.append(match.group(1)) if match.group(2) == "started" else ended.add(match.group(1)))
for name in started:
    if name not in ended:
        print(f"  {name}")
