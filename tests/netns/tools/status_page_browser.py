#!/usr/bin/python3
"""A real headless Chromium, driven through chromedriver by Debian's python3-selenium, for
tests/netns/test_status_page.sh. It runs inside the lab's gateway namespace (the test starts it
with `ip netns exec`), so the browser only ever reaches that namespace's addresses.

It reads one command a line on stdin and answers one line on stdout, so that the shell test
keeps the assertions and does the lab's changes between two commands:

  open URL                          -> ok | error TEXT
  wait_present SELECTOR SECONDS     -> ok MS | timeout
  wait_style SELECTOR PROPERTY VALUE SECONDS
                                    -> ok MS | timeout LAST_VALUE (computed style, e.g.
                                       background-color "rgb(198, 40, 40)")
  text SELECTOR                     -> ok TEXT | missing
  console_errors                    -> ok N [MESSAGE | MESSAGE ...] (SEVERE entries of the
                                       browser's log since the last call)
  screenshot PATH                   -> ok PATH
  quit                              -> ok
"""
import shlex
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service


def browser(workdir):
    opts = webdriver.ChromeOptions()
    # Root in a test lab: Chromium refuses to start as root with its sandbox.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1600", "--no-first-run", "--disable-extensions",
                 "--disable-background-networking", "--disable-sync",
                 "--user-data-dir=" + workdir + "/profile"):
        opts.add_argument(flag)
    opts.binary_location = "/usr/bin/chromium"
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The Debian driver by its path: Selenium must never try to fetch one.
    service = Service(executable_path="/usr/bin/chromedriver",
                      log_path=workdir + "/chromedriver.log")
    return webdriver.Chrome(service=service, options=opts)


def wait(seconds, probe):
    """Polls probe() every 50 ms until it returns a truthy value; (value, ms) or (None, ms)."""
    start = time.monotonic()
    while True:
        value = probe()
        elapsed = int((time.monotonic() - start) * 1000)
        if value or elapsed > seconds * 1000:
            return value, elapsed
        time.sleep(0.05)


def main():
    workdir = sys.argv[1]
    driver = browser(workdir)
    last = {"style": ""}

    # Read in one script each: the page redraws its tables every second, so an element found in
    # one call may be gone by the next (a stale element).
    def find(selector):
        return driver.execute_script("return document.querySelector(arguments[0]) !== null",
                                     selector)

    def text(selector):
        return driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null",
            selector)

    def style(selector, prop, value):
        last["style"] = driver.execute_script(
            "const e = document.querySelector(arguments[0]);"
            "return e ? getComputedStyle(e).getPropertyValue(arguments[1]) : '(no element)'",
            selector, prop)
        return last["style"] == value

    print("ready", flush=True)
    for line in sys.stdin:
        args = shlex.split(line)
        if not args:
            continue
        cmd, rest = args[0], args[1:]
        try:
            if cmd == "open":
                driver.get(rest[0])
                answer = "ok"
            elif cmd == "wait_present":
                ok, ms = wait(float(rest[1]), lambda: find(rest[0]))
                answer = "ok %d" % ms if ok else "timeout"
            elif cmd == "wait_style":
                ok, ms = wait(float(rest[3]), lambda: style(rest[0], rest[1], rest[2]))
                answer = "ok %d" % ms if ok else "timeout " + last["style"]
            elif cmd == "text":
                t = text(rest[0])
                answer = "missing" if t is None else "ok " + " ".join(t.split())
            elif cmd == "console_errors":
                errors = [e["message"] for e in driver.get_log("browser")
                          if e.get("level") == "SEVERE"]
                answer = "ok %d %s" % (len(errors), " | ".join(errors))
            elif cmd == "screenshot":
                driver.save_screenshot(rest[0])
                answer = "ok " + rest[0]
            elif cmd == "quit":
                print("ok", flush=True)
                break
            else:
                answer = "error unknown command " + cmd
        except (WebDriverException, IndexError, ValueError) as e:
            answer = "error " + " ".join(str(e).split())[:300]
        print(answer, flush=True)
    driver.quit()


if __name__ == "__main__":
    main()
