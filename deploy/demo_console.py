#!/usr/bin/python3
"""Signs in to a running console with headless Chromium and saves
screenshots of its pages (used by deploy/demo.sh).

usage: demo_console.py URL USER PASSWORD OUTDIR YEAR

Writes OUTDIR/console-dashboard.png, console-conflicts.png,
console-sync.png, console-referrals.png, console-new-case.png (the
new-case form) and console-case.png (a case page) (1280 px wide), and
the same pages at 390 px (a phone) as console-*-phone.png.  The browser
is deploy/webshot.py's, as in the browser tests."""
import os
import sys


def main():
    url, user, password, out, year = sys.argv[1:6]
    try:
        from selenium.webdriver.common.by import By
    except ImportError:
        print("demo: python3-selenium is missing: no console screenshots",
              file=sys.stderr)
        return 1
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import webshot

    d = webshot.browser(hide_scrollbars=True)
    try:
        if not webshot.sign_in(d, url, user, password, "?lang=vi"):
            print("demo: cannot sign in to the console", file=sys.stderr)
            return 1
        pages = [("dashboard", "/?year=" + year), ("conflicts", "/conflicts"),
                 ("sync", "/sync"), ("referrals", "/referrals?days=0"),
                 ("new-case", "/cases/new")]
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
                f = os.path.join(out, "console-%s%s.png" % (name, suffix))
                webshot.screenshot(d, f, width, 5000)
                print("  " + f)
    finally:
        d.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
