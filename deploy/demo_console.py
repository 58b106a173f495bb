#!/usr/bin/python3
"""Signs in to a running console with headless Chromium and saves
screenshots of its pages (used by deploy/demo.sh).

usage: demo_console.py URL USER PASSWORD OUTDIR YEAR

Writes OUTDIR/console-dashboard.png, console-conflicts.png,
console-sync.png, console-new-case.png (the new-case form) and
console-case.png (a case page) (1280 px wide), and the same
pages at 390 px (a phone) as console-*-phone.png.  Needs Debian's
chromium, chromium-driver and python3-selenium (deploy/bootstrap.sh)."""
import os
import sys
import tempfile
import time


def main():
    url, user, password, out, year = sys.argv[1:6]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
    except ImportError:
        print("demo: python3-selenium is missing: no console screenshots",
              file=sys.stderr)
        return 1
    o = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--no-first-run", "--ignore-certificate-errors",
              "--hide-scrollbars",
              "--user-data-dir=" + tempfile.mkdtemp(prefix="chromium-")):
        o.add_argument(a)
    o.accept_insecure_certs = True
    o.binary_location = "/usr/bin/chromium"
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                         options=o)
    try:
        d.set_window_size(1280, 900)
        d.get(url + "/login?lang=vi")
        d.find_element(By.ID, "user").send_keys(user)
        d.find_element(By.ID, "password").send_keys(password)
        d.find_element(By.CSS_SELECTOR, "button.primary").click()
        deadline = time.monotonic() + 15
        while "/login" in d.current_url and time.monotonic() < deadline:
            time.sleep(0.1)
        if "/login" in d.current_url:
            print("demo: cannot sign in to the console", file=sys.stderr)
            return 1
        pages = [("dashboard", "/?year=" + year), ("conflicts", "/conflicts"),
                 ("sync", "/sync"), ("new-case", "/cases/new")]
        d.get(url + "/conflicts")
        links = d.find_elements(By.CSS_SELECTOR, "article.conflict a")
        if not links:
            # No conflict left: any case the list shows.
            d.get(url + "/cases")
            links = d.find_elements(By.CSS_SELECTOR, "#cases a")
        if links:
            pages.append(("case", links[0].get_attribute("href")[len(url):]))
        for name, path in pages:
            for width, suffix in ((1280, ""), (390, "-phone")):
                d.set_window_size(width, 900)
                d.get(url + path)
                h = d.execute_script(
                    "return document.documentElement.scrollHeight")
                d.set_window_size(width, min(max(h + 130, 700), 5000))
                f = os.path.join(out, "console-%s%s.png" % (name, suffix))
                d.save_screenshot(f)
                print("  " + f)
    finally:
        d.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
