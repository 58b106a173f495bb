"""Every form page of a province's console fits a desktop (1280 px) and a
phone (390 px) without scrolling sideways, in Vietnamese and in English:
the new-case form (with possible duplicates shown), the case page with
its actions (an admin's, so the duplicate link and erase are there), the
referral inbox, and the report page.  Screenshots are kept in
$CASESYNC_SHOTS when set (look at them: a page can fit and still be
cramped)."""
import os

from harness import check, ok, sample_case


def person_case(i, name, year, home="lao-cai"):
    c = sample_case(i)
    c["person"].update({"full_name": name, "birth_year": year,
                        "sex": "female", "home_province": home})
    return c


def test_every_form_page_fits_both_widths_in_both_languages(env):
    from selenium.webdriver.common.by import By
    from console import Console, browser, sign_in, screenshot
    from test_case_forms import _fill, shot_dir

    c = env.central().start()
    a = env.province("lao-cai", c)
    b = env.province("ha-noi", c)
    first = a.add(person_case(1, "FAKE Nguyễn Thị Hoa", 1990))
    sent = a.add(person_case(2, "FAKE Trần Thị Bích Ngọc", 1998))
    ok(a.cli("case", "transfer", sent, "--to", "ha-noi", "--reason",
             "FAKE gia đình sống ở Hà Nội, muốn về gần gia đình"), "refer")
    ok(a.sync(), "sync lao-cai")
    ok(b.sync(), "sync ha-noi")
    acon, bcon = Console(a), Console(b)
    d = browser()
    bad = []

    def fits(name, lang):
        for w in (1280, 390):
            path = os.path.join(shot_dir(env), "screen-%s-%s-%d.png" %
                                (name, lang, w))
            if not screenshot(d, path, w):
                bad.append("%s (%s) at %d px" % (name, lang, w))
        d.set_window_size(1280, 900)

    try:
        sign_in(d, acon, "admin")
        for lang in ("vi", "en"):
            d.get(acon.url + "/cases/new?lang=" + lang)
            fits("new-case", lang)
            _fill(d, "person.full_name", "FAKE Nguyen Thi Hoa")
            _fill(d, "person.birth_year", "1990")
            _fill(d, "person.sex", "female")
            _fill(d, "person.category", "victim")
            _fill(d, "person.home_province", "lao-cai")
            _fill(d, "intake.received_on", "30/11/2026" if lang == "vi"
                  else "2026-11-30")
            d.find_element(By.CSS_SELECTOR,
                           "#newcase button.primary").click()
            check(d.find_elements(By.ID, "duplicates"), "no duplicates "
                  "panel")
            fits("new-case-duplicates", lang)
            d.get(acon.url + "/cases/%s?lang=%s" % (first, lang))
            check(d.find_elements(By.ID, "duplicate-of") and
                  d.find_elements(By.ID, "erase"), "admin actions missing")
            fits("case-page", lang)
            d.get(acon.url + "/referrals?lang=" + lang)
            fits("referrals-sent", lang)
            d.get(acon.url + "/?lang=" + lang)
            fits("report", lang)
        d.delete_all_cookies()
        sign_in(d, bcon, "cw")
        for lang in ("vi", "en"):
            d.get(bcon.url + "/referrals?lang=" + lang)
            check(d.find_elements(By.CSS_SELECTOR, "article.referral"),
                  "the inbox is empty")
            fits("referrals-inbox", lang)
    finally:
        d.quit()
    check(not bad, "scrolls sideways: %s" % ", ".join(bad))
