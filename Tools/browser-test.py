#!/usr/bin/env python3
"""Browser checks of the analysts' web workspace (run by Tools/browser-test.sh against a seeded server).

Each check prints one line; the last line is "N passed, N failed". Exit status 1 when any failed.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import traceback
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

# Reporter text seeded by browser-test.sh: removed from a page's text before looking for English labels.
REPORTER_TEXT = [
    "Clash at the market", "Gathering in Gao", "Ambush near Mopti", "Checkpoint at Niamey", "Unplaced report",
    "A crowd wrote <script>alert(1)</script> on the wall & left.", "Bamako", "Gao", "alice", "bob", "desk",
]


class Run:
    def __init__(self, args):
        self.args = args
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}{': ' + detail if detail else ''}")

    def browser(self, language):
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,1400", f"--lang={language}"):
            options.add_argument(flag)
        options.add_experimental_option("prefs", {"intl.accept_languages": language})
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
        driver.set_page_load_timeout(30)
        return driver

    def api_total(self, query):
        request = urllib.request.Request(
            self.args.url + "/v1/incidents?limit=1" + ("&" + query if query else ""),
            headers={"Authorization": "Bearer " + self.args.analyst_token})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["total"]

    def shot(self, driver, name):
        path = os.path.join(self.args.artifacts, name + ".png")
        driver.save_screenshot(path)

    def click(self, driver, element):
        """Clicks and waits until the next page has replaced this one and finished loading.

        The old page is marked by a property on its window: a new document starts without it. (Waiting
        for the old <html> element to go stale raced Chromium's navigation: asking a node of a document
        being torn down fails with "Node with given id does not belong to the document".)
        """
        driver.execute_script("window.outpostPreviousPage = true")
        element.click()

        def next_page_loaded(d):
            try:
                return d.execute_script(
                    "return window.outpostPreviousPage === undefined && document.readyState === 'complete'")
            except WebDriverException:  # between documents: ask again
                return False

        WebDriverWait(driver, 20).until(next_page_loaded)

    def row_link(self, driver, title):
        """The table's link to the incident titled `title` (the map's points link there too)."""
        return driver.find_element(By.XPATH, f"//table[@id='incidents']//a[contains(., '{title}')]")

    def sign_in(self, driver, token):
        driver.get(self.args.url + "/web/signin")
        driver.find_element(By.ID, "token").send_keys(token)
        self.click(driver, driver.find_element(By.ID, "signin"))

    def map_points(self, driver):
        points = len(driver.find_elements(By.CSS_SELECTOR, "#map circle.point"))
        binned = sum(int(b.get_attribute("data-count")) for b in driver.find_elements(By.CSS_SELECTOR, "#map circle.bin"))
        return points + binned

    def reporter_sees(self, incident, status):
        """Whether `outpost sync` then `outpost show --json` in the reporter's store gives `status`."""
        store = ["--store", self.args.reporter_store]
        sync = subprocess.run([self.args.outpost, *store, "sync"], capture_output=True, text=True, timeout=120)
        if sync.returncode != 0:
            print(f"     outpost sync: {sync.stderr.strip()[:300]}")
            return False
        show = subprocess.run([self.args.outpost, *store, "show", incident, "--json"], capture_output=True, text=True,
                              timeout=60)
        if show.returncode != 0:
            print(f"     outpost show: {show.stderr.strip()[:300]}")
            return False
        fields = json.loads(show.stdout).get("fields", {})
        return fields.get("status") == status and bool(fields.get("review_note"))

    def errors_in_log(self, driver):
        return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]

    def english(self, driver):
        driver_log = []
        url = self.args.url
        self.sign_in(driver, "not-a-real-token-000000000")
        self.check("a wrong token is refused", driver.current_url.endswith("/web/signin") and
                   driver.find_elements(By.ID, "error"))
        # A reporter's token does not sign in either.
        self.sign_in(driver, self.args.reporter_token)
        self.check("a reporter token is refused", driver.find_elements(By.ID, "error") != [])
        # The refusals above log their 401s; anything else is an error.
        driver_log += [e for e in self.errors_in_log(driver) if "401" not in e.get("message", "")]
        self.shot(driver, "signin")

        self.sign_in(driver, self.args.analyst_token)
        self.check("sign in leads to the incidents page", driver.current_url.startswith(url + "/web/incidents"),
                   driver.current_url)
        session = driver.get_cookie("outpost_session")
        self.check("the session cookie is HttpOnly and SameSite=Strict",
                   session is not None and session.get("httpOnly") and session.get("sameSite") == "Strict", str(session))
        total = int(driver.find_element(By.ID, "total").get_attribute("data-total"))
        self.check("unfiltered: the page's total is the API's", total == self.api_total(""), str(total))
        placed = self.map_points(driver)
        self.check("unfiltered: every placed incident is a point", placed == total - 1, f"{placed} of {total}")
        self.shot(driver, "incidents")

        # Filter by event type in the form, as an analyst would.
        Select(driver.find_element(By.ID, "f-event-type")).select_by_value("battle")
        self.click(driver, driver.find_element(By.ID, "apply"))
        api = self.api_total("event_type=battle")
        shown = int(driver.find_element(By.ID, "total").get_attribute("data-total"))
        self.check("filter: the page's total is the API's", shown == api, f"page {shown}, API {api}")
        self.check("filter: the map has as many points as the API's total", self.map_points(driver) == api,
                   f"map {self.map_points(driver)}, API {api}")
        rows = driver.find_elements(By.CSS_SELECTOR, "#incidents tbody tr")
        self.check("filter: the table lists them", len(rows) == api, str(len(rows)))
        self.shot(driver, "incidents-battle")
        # The export follows the filter.
        href = driver.find_element(By.ID, "export-geojson").get_attribute("href")
        self.check("export link carries the filter", "event_type=battle" in href, href)

        # The narrative with a script shows as text; no alert fires.
        driver.get(url + "/web/incidents?q=Gathering")
        self.click(driver, self.row_link(driver, "Gathering in Gao"))
        narrative = driver.find_element(By.CSS_SELECTOR, "td.value.narrative").text
        self.check("a script in a narrative shows as text", "<script>alert(1)</script>" in narrative, narrative)
        try:
            driver.switch_to.alert
            self.check("no alert fires", False, "an alert is open")
        except NoAlertPresentException:
            self.check("no alert fires", True)
        self.check("no script element came from reporter text",
                   len(driver.find_elements(By.TAG_NAME, "script")) == 1)
        self.shot(driver, "incident-script")

        # The incident in conflict shows both values side by side, with the history.
        driver.get(url + "/web/incidents?has_conflicts=1")
        self.click(driver, self.row_link(driver, "Clash at the market"))
        siblings = driver.find_elements(By.CSS_SELECTOR, "section.conflict .sibling")
        self.check("a conflict shows its values side by side", len(siblings) == 2, str(len(siblings)))
        history = driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")
        self.check("the history lists every change", len(history) == 3, str(len(history)))
        self.shot(driver, "incident-conflict")

        # Review: resolve the conflict by picking a value, then mark the incident verified with a note.
        clash_url = driver.current_url
        clash_id = urllib.parse.unquote(clash_url.rstrip("/").rsplit("/", 1)[1])
        form = driver.find_element(By.CSS_SELECTOR, "form.resolve[data-field='killed']")
        form.find_element(By.CSS_SELECTOR, "input[type=radio][value^='pick:']").click()
        self.click(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        self.check("resolving a conflict by picking a value ends it",
                   driver.current_url == clash_url and driver.find_elements(By.ID, "no-conflicts") != [],
                   driver.current_url)
        Select(driver.find_element(By.ID, "review-status")).select_by_value("verified")
        self.click(driver, driver.find_element(By.ID, "review-submit"))
        self.check("a review without a note is refused", driver.find_elements(By.ID, "form-error") != [])
        driver_log += [e for e in self.errors_in_log(driver) if "400" not in e.get("message", "")]
        Select(driver.find_element(By.ID, "review-status")).select_by_value("verified")
        driver.find_element(By.ID, "review-note").send_keys("Two witnesses and a photograph agree.")
        self.click(driver, driver.find_element(By.ID, "review-submit"))
        shown = driver.find_element(By.CSS_SELECTOR, "#fields td.value.status").text
        self.check("a review with a note marks it verified", shown == "Verified", shown)
        self.check("... and no conflict is left", driver.find_elements(By.ID, "no-conflicts") != [])
        self.shot(driver, "incident-reviewed")
        if self.args.outpost and self.args.reporter_store:
            self.check("a reporter's sync shows the new status", self.reporter_sees(clash_id, "verified"))

        # A POST without the CSRF token is refused: the browser's own sign-out form, its token removed.
        driver.get(url + "/web/incidents")
        driver.execute_script("document.querySelector('form[action=\"/web/signout\"] input[name=csrf]').remove()")
        self.click(driver, driver.find_element(By.ID, "signout"))
        self.check("a POST without the CSRF token is refused", driver.find_elements(By.ID, "error") != [])
        driver_log += [e for e in self.errors_in_log(driver) if "403" not in e.get("message", "")]
        driver.get(url + "/web/incidents")
        self.check("... and the session is still there", driver.current_url.startswith(url + "/web/incidents"))
        # The same from outside a browser: with the session cookie and this origin, without the token.
        data = urllib.parse.urlencode({"lang": "fr"}).encode()
        request = urllib.request.Request(url + "/web/language", data=data, method="POST", headers={
            "Cookie": "outpost_session=" + session["value"], "Origin": url,
            "Content-Type": "application/x-www-form-urlencoded"})
        try:
            urllib.request.urlopen(request, timeout=30)
            status = 200
        except urllib.error.HTTPError as error:
            status = error.code
        self.check("a scripted POST without the token gets 403", status == 403, str(status))

        driver_log += self.errors_in_log(driver)
        self.check("the browser log has no errors", not driver_log, json.dumps(driver_log)[:500])

        # Sign out (with the token) ends the session.
        self.click(driver, driver.find_element(By.ID, "signout"))
        driver.get(url + "/web/incidents")
        self.check("sign-out ends the session", driver.current_url.endswith("/web/signin"), driver.current_url)

    def french(self, driver):
        url = self.args.url
        catalogues = {}
        for code in ("en", "fr"):
            with open(os.path.join(self.args.catalogues, code + ".json"), encoding="utf-8") as f:
                catalogues[code] = json.load(f)
        english = set()
        for part in ("messages", "event_types", "statuses", "fields"):
            for key, text in catalogues["en"][part].items():
                if "{" not in text and text != catalogues["fr"][part].get(key) and len(text) > 2:
                    english.add(text)

        def leftovers():
            text = driver.find_element(By.TAG_NAME, "body").text
            for reporter_text in REPORTER_TEXT:
                text = text.replace(reporter_text, "")
            # Whole words only: "Text" is not left in "Texte".
            return sorted(label for label in english if re.search(r"(?<!\w)" + re.escape(label) + r"(?!\w)", text))

        self.sign_in(driver, self.args.analyst_token)
        pages = [("incidents-fr", url + "/web/incidents")]
        driver.get(url + "/web/incidents?has_conflicts=1")
        clash = self.row_link(driver, "Clash at the market").get_attribute("href")
        pages.append(("incident-fr", clash))
        for name, page in pages:
            driver.get(page)
            self.check(f"{name}: the page is in French", driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr")
            left = leftovers()
            self.check(f"{name}: no English label is left", not left, ", ".join(left))
            if name == "incident-fr":
                forms = driver.find_elements(By.CSS_SELECTOR, "#review-form, form.resolve")
                self.check("incident-fr: the review and resolve forms are there, in French",
                           len(forms) >= 2 and not [label for label in english for form in forms
                                                    if re.search(r"(?<!\w)" + re.escape(label) + r"(?!\w)", form.text)],
                           str(len(forms)))
            self.shot(driver, name)
        self.click(driver, driver.find_element(By.ID, "signout"))
        left = leftovers()
        self.check("sign-in page (fr): no English label is left", not left, ", ".join(left))
        self.check("the French pages log no errors", not self.errors_in_log(driver))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--analyst-token", required=True)
    parser.add_argument("--reporter-token", required=True)
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--catalogues", required=True)
    parser.add_argument("--outpost", help="the outpost CLI, for the reporter's sync after a review")
    parser.add_argument("--reporter-store", help="a reporter's store that syncs with the server")
    args = parser.parse_args()
    run = Run(args)
    # French first: the English run resolves the conflict (and its forms) that the French pages show.
    for language, body in (("fr", run.french), ("en", run.english)):
        driver = run.browser(language)
        try:
            body(driver)
        except Exception as error:  # a broken page must fail the run, not stop it silently
            run.check(f"{language} run finished", False, repr(error)[:300])
            traceback.print_exc()
            run.shot(driver, f"failure-{language}")
        finally:
            driver.quit()
    print(f"{run.passed} passed, {run.failed} failed")
    sys.exit(1 if run.failed else 0)


if __name__ == "__main__":
    main()
