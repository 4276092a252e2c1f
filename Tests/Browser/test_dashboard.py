"""Browser tests of the dashboard: Debian's chromium + chromium-driver driven by Selenium, against a
real cluster that scripts/browser-tests.sh starts (serve with API keys, worker, promoter, history
writer, redis-server, SecantusDB). Each test saves a screenshot under .run/screenshots/.

Environment: CONVEYOR_URL (the API), CONVEYOR_ADMIN_KEY, SCREENSHOTS (a folder)."""
import json
import os
import time
import unittest
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, NoSuchElementException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ["CONVEYOR_URL"]
KEY = os.environ["CONVEYOR_ADMIN_KEY"]
SHOTS = os.environ.get("SCREENSHOTS", ".run/screenshots")


def api(method, path, body=None):
    """Calls the REST API with the admin key; returns (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + KEY)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        return error.code, (json.loads(text) if text else None)


def enqueue(job_type, **fields):
    status, body = api("POST", "/v1/jobs", {"type": job_type, **fields})
    assert status in (200, 201), (status, body)
    return body["id"]


def make_driver(width=1280, height=800):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--no-first-run", "--disable-extensions",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    return driver


class DashboardTests(unittest.TestCase):
    """One signed-in browser for the whole class; each test goes to its page by URL."""

    @classmethod
    def setUpClass(cls):
        os.makedirs(SHOTS, exist_ok=True)
        cls.driver = make_driver()
        cls.wait = WebDriverWait(cls.driver, 20)
        cls.sign_in()

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()

    @classmethod
    def sign_in(cls):
        driver = cls.driver
        driver.get(BASE + "/")
        field = cls.wait.until(EC.visibility_of_element_located((By.ID, "api-key")))
        field.send_keys("not-the-key")
        driver.find_element(By.ID, "sign-in-button").click()
        cls.wait.until(EC.text_to_be_present_in_element((By.ID, "sign-in-error"), "not valid"))
        field.clear()
        field.send_keys(KEY)
        driver.find_element(By.ID, "sign-in-button").click()
        cls.wait.until(EC.invisibility_of_element_located((By.ID, "sign-in")))

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(SHOTS, name + ".png"))

    def go(self, hash_path):
        self.driver.execute_script("location.hash = arguments[0]", hash_path)

    def text_of(self, selector):
        """The element's text, or "" while the page re-renders it."""
        try:
            return self.driver.find_element(By.CSS_SELECTOR, selector).text
        except (StaleElementReferenceException, NoSuchElementException):
            return ""

    def wait_for(self, condition, timeout=20, message=""):
        return WebDriverWait(self.driver, timeout).until(condition, message)

    def test_01_signed_in_with_the_key_out_of_the_url(self):
        self.go("#/overview")
        self.wait_for(EC.text_to_be_present_in_element((By.ID, "connection"), "live"))
        self.assertNotIn(KEY, self.driver.current_url)
        stored = self.driver.execute_script("return sessionStorage.getItem('conveyor.apiKey')")
        self.assertEqual(stored, KEY)
        self.shot("01-overview-signed-in")

    def test_02_jobs_from_the_form_and_the_api_appear_live(self):
        driver = self.driver
        self.go("#/jobs?queue=browser")
        self.wait_for(EC.presence_of_element_located((By.ID, "jobs-status")))
        self.wait_for(EC.text_to_be_present_in_element((By.ID, "connection"), "live"))
        jobs_window = driver.current_window_handle
        job_id = enqueue("echo", queue="browser", payload={"from": "api"})
        self.wait_for(EC.presence_of_element_located((By.CSS_SELECTOR, f'tr[data-id="{job_id}"]')),
                      message="a job enqueued through the API did not appear")
        # The form, in a second window (window.open keeps the tab's session storage, as for a
        # user); the first one must show the job without a reload.
        handles = set(driver.window_handles)
        driver.execute_script("window.open(arguments[0])", BASE + "/#/submit")
        self.wait_for(lambda d: len(d.window_handles) > len(handles))
        driver.switch_to.window((set(driver.window_handles) - handles).pop())
        try:
            self.wait_for(EC.visibility_of_element_located((By.ID, "submit-type"))).send_keys("echo")
            queue = driver.find_element(By.ID, "submit-queue")
            queue.clear()
            queue.send_keys("browser")
            payload = driver.find_element(By.ID, "submit-payload")
            payload.clear()
            payload.send_keys('{"from": "form"')
            self.wait_for(EC.text_to_be_present_in_element((By.ID, "submit-payload-error"), "Not valid JSON"))
            payload.send_keys("}")
            self.wait_for(lambda d: d.find_element(By.ID, "submit-payload-error").text == "")
            driver.find_element(By.ID, "submit-button").click()
            link = self.wait_for(EC.presence_of_element_located((By.CSS_SELECTOR, "#submit-result a")))
            form_id = link.text
            self.shot("02-submit-form")
        finally:
            driver.close()
            driver.switch_to.window(jobs_window)
        self.wait_for(EC.presence_of_element_located((By.CSS_SELECTOR, f'tr[data-id="{form_id}"]')),
                      message="a job submitted through the form did not appear")
        self.wait_for(lambda d: "succeeded" in self.text_of(f'tr[data-id="{form_id}"] .state-cell'))
        self.shot("02-jobs-live")

    def test_03_a_failing_job_retries_dies_and_is_retried_from_the_ui(self):
        job_id = enqueue("fail", queue="browser", payload={"times": 100}, max_attempts=2,
                         backoff={"kind": "fixed", "base_ms": 300})
        self.go("#/jobs/" + job_id)
        self.wait_for(lambda d: "dead" in self.text_of("main dl"), timeout=30,
                      message="the failing job did not die")
        self.wait_for(lambda d: "retrying" in self.text_of("main"), timeout=30,
                      message="the timeline shows no retry")
        self.shot("03-job-dead-detail")
        self.go("#/dead")
        row = self.wait_for(EC.presence_of_element_located((By.CSS_SELECTOR, f'#dead-body tr[data-id="{job_id}"]')))
        row.find_element(By.CSS_SELECTOR, "button.retry-one").click()
        self.wait_for(EC.text_to_be_present_in_element((By.ID, "errors"), "1 of 1 retried"))
        self.shot("03-dead-retried")
        status, job = api("GET", "/v1/jobs/" + job_id)
        self.assertEqual(status, 200)
        self.assertIn(job["state"], ("queued", "running", "retrying", "dead"))

    def test_04_a_paused_queue_grows(self):
        self.go("#/queues")
        enqueue("noop", queue="paused-q")
        row = '#queues-table tr[data-queue="paused-q"]'
        button = self.wait_for(EC.element_to_be_clickable((By.CSS_SELECTOR, row + " button.pause-toggle")))
        if button.text == "Resume":
            button.click()
            self.wait_for(EC.text_to_be_present_in_element((By.CSS_SELECTOR, row + " .queue-state"), "active"))
        self.wait_for(EC.element_to_be_clickable((By.CSS_SELECTOR, row + " button.pause-toggle"))).click()
        self.wait_for(lambda d: self.text_of(row + " .queue-state") == "paused")
        before = api("GET", "/v1/queues")[1]["queues"]["paused-q"]["normal"]
        for _ in range(3):
            enqueue("noop", queue="paused-q")
        self.wait_for(lambda d: self.text_of(row + " .depth-1") == str(before + 3),
                      message=f"the paused queue's depth did not grow from {before} to {before + 3}")
        self.shot("04-queue-paused")
        self.wait_for(EC.element_to_be_clickable((By.CSS_SELECTOR, row + " button.pause-toggle"))).click()
        self.wait_for(lambda d: self.text_of(row + " .depth-1") == "0", message="the resumed queue did not drain")

    def test_05_edit_a_delayed_jobs_priority(self):
        job_id = enqueue("noop", queue="browser", delay_ms=600000, priority="low")
        self.go("#/jobs/" + job_id)
        select = self.wait_for(EC.presence_of_element_located((By.ID, "edit-priority")))
        select.find_element(By.CSS_SELECTOR, 'option[value="high"]').click()
        self.driver.find_element(By.ID, "edit-save").click()
        self.wait_for(lambda d: api("GET", "/v1/jobs/" + job_id)[1].get("priority") == "high")
        self.shot("05-job-edited")

    def test_06_cancel_a_delayed_job(self):
        job_id = enqueue("noop", queue="browser", delay_ms=600000)
        self.go("#/jobs/" + job_id)
        self.wait_for(lambda d: "scheduled" in self.text_of("main dl"))
        self.driver.find_element(By.ID, "job-cancel").click()
        self.wait_for(lambda d: "cancelled" in self.text_of("main dl"))
        self.assertEqual(api("GET", "/v1/jobs/" + job_id)[1]["state"], "cancelled")
        self.shot("06-job-cancelled")

    def test_07_overview_counters_match_the_stats(self):
        self.go("#/overview")
        ids = {"ov-running": "running", "ov-delayed": "delayed", "ov-dead": "dead"}

        def matches(driver):
            broker = api("GET", "/v1/stats")[1]["broker"]
            shown = {name: driver.find_element(By.ID, element).text.replace(",", "") for element, name in ids.items()}
            return all(shown[name] == str(broker[name]) for name in ids.values())

        self.wait_for(matches, timeout=20, message="the overview's counters do not match /v1/stats")
        self.shot("07-overview-matches-stats")

    def test_08_types_and_workers_and_schedules_pages(self):
        for page, text in (("#/types", "echo"), ("#/workers", "browser"), ("#/schedules", "Schedules")):
            self.go(page)
            self.wait_for(EC.text_to_be_present_in_element((By.TAG_NAME, "main"), text), message=page)
            self.shot("08-" + page.strip("#/"))

    def test_09_phone_width(self):
        driver = self.driver
        driver.set_window_size(390, 844)
        try:
            self.go("#/overview")
            toggle = self.wait_for(EC.element_to_be_clickable((By.ID, "menu-toggle")))
            toggle.click()
            self.wait_for(EC.visibility_of_element_located((By.CSS_SELECTOR, 'nav a[data-page="dead"]')))
            self.shot("09-phone-menu")
            width = driver.execute_script("return document.documentElement.scrollWidth")
            self.assertLessEqual(width, 400, "the page scrolls sideways at phone width")
        finally:
            driver.set_window_size(1280, 800)


if __name__ == "__main__":
    unittest.main(verbosity=2)
