"""Headless Chromium for the console: start it, sign in, take full-page
screenshots and tell whether a page scrolls sideways.  One module for
deploy/demo_console.py (the demo's screenshots) and tests/it/console.py
(the browser tests).  Needs Debian's chromium, chromium-driver and
python3-selenium (deploy/bootstrap.sh)."""
import tempfile
import time


def browser(lang="en-US", hide_scrollbars=False):
    """Headless chromium through chromedriver, 1280 x 900."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    o = Options()
    args = ["--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--disable-sync",
            "--no-first-run", "--ignore-certificate-errors",
            "--lang=" + lang,
            "--user-data-dir=" + tempfile.mkdtemp(prefix="chromium-")]
    if hide_scrollbars:
        args.append("--hide-scrollbars")
    for a in args:
        o.add_argument(a)
    o.accept_insecure_certs = True
    o.binary_location = "/usr/bin/chromium"
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                         options=o)
    d.set_window_size(1280, 900)
    d.set_page_load_timeout(30)
    return d


def sign_in(d, url, user, password, query="", timeout=15):
    """Signs in at url/login; returns whether the console let us in."""
    from selenium.webdriver.common.by import By

    d.get(url + "/login" + query)
    d.find_element(By.ID, "user").send_keys(user)
    d.find_element(By.ID, "password").send_keys(password)
    d.find_element(By.CSS_SELECTOR, "button.primary").click()
    deadline = time.monotonic() + timeout
    while "/login" in d.current_url and time.monotonic() < deadline:
        time.sleep(0.1)
    return "/login" not in d.current_url


def screenshot(d, path, width, max_height=6000):
    """A full-page screenshot of the current page at width px; returns
    True when the page does not scroll sideways."""
    d.set_window_size(width, 900)
    h = d.execute_script("return document.documentElement.scrollHeight")
    d.set_window_size(width, min(max(h + 130, 700), max_height))
    d.save_screenshot(path)
    return d.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth")
