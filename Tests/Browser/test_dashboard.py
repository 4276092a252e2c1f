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
        # A dead job can be retried, not cancelled or edited; the disabled buttons say why.
        self.wait_for(lambda d: d.find_element(By.ID, "job-cancel").get_attribute("disabled") is not None,
                      message="Cancel is enabled on a dead job")
        self.assertIn("cannot be cancelled", self.driver.find_element(By.ID, "job-cancel").get_attribute("title"))
        self.assertIsNone(self.driver.find_element(By.ID, "job-retry").get_attribute("disabled"))
        self.assertIsNotNone(self.driver.find_element(By.ID, "edit-save").get_attribute("disabled"))
        self.shot("03-job-dead-detail")
        self.go("#/dead")
        row = self.wait_for(EC.presence_of_element_located((By.CSS_SELECTOR, f'#dead-body tr[data-id="{job_id}"]')))
        row.find_element(By.CSS_SELECTOR, "button.retry-one").click()
        self.wait_for(EC.text_to_be_present_in_element((By.ID, "errors"), "1 of 1 retried"))
        self.shot("03-dead-retried")
        # The job left dead letters: it is pending or running again, or (if it already failed its two
        # new attempts) its timeline shows the retry that put it back on its queue after it died.
        def left_dead(_):
            status, job = api("GET", "/v1/jobs/" + job_id)
            self.assertEqual(status, 200)
            if job["state"] in ("queued", "running", "retrying", "succeeded"):
                return True
            return any(e.get("event") == "queued" and e.get("from") == "dead" for e in job.get("timeline") or [])

        self.wait_for(left_dead, timeout=20, message="the retried job did not leave dead letters")

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
        # The chart opens with the past minutes (GET /v1/stats/throughput; the server has sampled
        # since the first test): 5 points within 1.5 s, where the live feed adds one a second.
        points = "const c = window.Chart && Chart.getChart('ov-chart'); return c ? c.data.labels.length : -1;"
        self.wait_for(lambda d: d.execute_script(points) >= 5, timeout=1.5,
                      message="the overview chart did not open with the past minutes")
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
        # A worker's running jobs are links to them.
        job_id = enqueue("sleep", queue="browser", payload={"ms": 8000})
        self.go("#/workers")
        self.wait_for(EC.presence_of_element_located((By.CSS_SELECTOR, f'main a[href="#/jobs/{job_id}"]')),
                      message="the running job is not a link on the workers page")
        self.assertNotIn("http://", self.text_of("main"))
        self.shot("08-workers-running")
        # A page without a live feed says so instead of "offline".
        self.go("#/submit")
        self.wait_for(EC.text_to_be_present_in_element((By.ID, "connection"), "not live on this page"))
        api("POST", "/v1/jobs/" + job_id + "/cancel")

    def wait_dead(self, ids, timeout=30):
        """Waits until the API says each job is dead."""
        self.wait_for(lambda d: all(api("GET", "/v1/jobs/" + i)[1].get("state") == "dead" for i in ids), timeout=timeout,
                      message=f"the failing jobs {ids} did not die")

    def dead_ids(self):
        """Every id in dead letters, read page by page through the API."""
        ids, cursor = set(), None
        while True:
            status, page = api("GET", "/v1/dead?limit=1000" + (f"&cursor={cursor}" if cursor else ""))
            self.assertEqual(status, 200, page)
            ids.update(job["id"] for job in page["jobs"])
            cursor = page["next_cursor"]
            if not cursor:
                return ids

    def open_jobs(self, hash_path, state_filter):
        """Goes to the jobs page with filters and waits for its feed to be live."""
        self.go(hash_path)
        self.wait_for(lambda d: d.execute_script("const s = document.getElementById('jf-state'); return s && s.value") == state_filter)
        self.wait_for(EC.text_to_be_present_in_element((By.ID, "connection"), "live"))
        # A reload would lose this mark: the tests check that rows arrive without one.
        self.driver.execute_script("window.noReloadMark = true")

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

    def test_10_bulk_delete_selected_dead_letters(self):
        ids = [enqueue("fail", queue="browser", payload={"times": 100}, max_attempts=1) for _ in range(3)]
        self.wait_dead(ids)
        keep = enqueue("fail", queue="browser", payload={"times": 100}, max_attempts=1)
        self.wait_dead([keep])
        self.go("#/dead")
        for job_id in ids:
            self.wait_for(EC.element_to_be_clickable(
                (By.CSS_SELECTOR, f'#dead-body tr[data-id="{job_id}"] input[type=checkbox]'))).click()
        self.driver.find_element(By.ID, "dead-delete-selected").click()
        self.wait_for(EC.alert_is_present()).accept()
        self.wait_for(EC.text_to_be_present_in_element((By.ID, "dead-bulk-progress"), "3 of 3 deleted."),
                      message="the bulk delete did not report 3 of 3 deleted")
        for job_id in ids:
            self.wait_for(EC.invisibility_of_element_located((By.CSS_SELECTOR, f'#dead-body tr[data-id="{job_id}"]')))
        self.shot("10-dead-bulk-deleted")
        dead = self.dead_ids()
        self.assertFalse(dead & set(ids), "deleted jobs are still in dead letters")
        self.assertIn(keep, dead, "a job that was not selected was deleted")
        self.assertTrue(self.driver.find_elements(By.CSS_SELECTOR, f'#dead-body tr[data-id="{keep}"]'))

    def test_11_a_job_turning_dead_appears_live_and_is_deleted_from_the_jobs_page(self):
        self.open_jobs("#/jobs?state=dead&queue=browser", "dead")
        job_id = enqueue("fail", queue="browser", payload={"times": 100}, max_attempts=2,
                         backoff={"kind": "fixed", "base_ms": 300})
        row = f'#jobs-body tr[data-id="{job_id}"]'
        self.wait_for(EC.presence_of_element_located((By.CSS_SELECTOR, row)), timeout=30,
                      message="a job that died did not appear on the jobs page filtered to dead")
        self.assertIn("dead", self.text_of(row + " .state-cell"))
        self.assertTrue(self.driver.execute_script("return window.noReloadMark === true"), "the page reloaded")
        self.shot("11-jobs-dead-live")
        self.driver.find_element(By.CSS_SELECTOR, row + " input[type=checkbox]").click()
        self.driver.find_element(By.ID, "jobs-delete-selected").click()
        self.wait_for(EC.alert_is_present()).accept()
        self.wait_for(EC.text_to_be_present_in_element((By.ID, "jobs-bulk-progress"), "1 of 1 deleted from dead letters."))
        self.wait_for(lambda d: "deleted" in self.text_of(row + " .state-cell"), message="the row does not show the deletion")
        self.assertNotIn(job_id, self.dead_ids())
        self.shot("11-jobs-dead-deleted")

    def test_12_error_text_and_open_time_range_stay_live_and_delete_all_matching(self):
        since = time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() - 3600))
        self.open_jobs(f"#/jobs?state=dead&queue=browser&since={since}&q=ON%20PURPOSE", "dead")
        job_id = enqueue("fail", queue="browser", payload={"times": 100}, max_attempts=1)
        row = f'#jobs-body tr[data-id="{job_id}"]'
        self.wait_for(EC.presence_of_element_located((By.CSS_SELECTOR, row)), timeout=30,
                      message="a dead job matching the error text did not appear live")
        self.assertIn("failing on purpose", self.text_of(row + " .error"))
        self.assertTrue(self.driver.execute_script("return window.noReloadMark === true"), "the page reloaded")
        # The history must have it before "all matching" (read from the history) can find it.
        self.wait_for(lambda d: any(j["id"] == job_id for j in api("GET", "/v1/jobs?state=dead&queue=browser&limit=1000")[1]["jobs"]),
                      message="the history never listed the dead job")
        self.driver.find_element(By.ID, "jobs-delete-all").click()
        self.wait_for(EC.alert_is_present()).accept()
        self.wait_for(EC.text_to_be_present_in_element((By.ID, "jobs-bulk-progress"), "deleted from dead letters"))
        self.assertNotIn("refused", self.text_of("#jobs-bulk-progress"))
        self.assertNotIn(job_id, self.dead_ids())
        self.shot("12-jobs-delete-all-matching")

    def test_13_a_live_event_keeps_an_edit_in_progress(self):
        job_id = enqueue("noop", queue="browser", delay_ms=600000, priority="low", payload={"n": 1})
        self.go("#/jobs/" + job_id)
        payload = self.wait_for(EC.element_to_be_clickable((By.ID, "edit-payload")))
        self.wait_for(EC.text_to_be_present_in_element((By.ID, "connection"), "live"))
        payload.click()
        self.driver.execute_script("arguments[0].select()", payload)
        payload.send_keys('{"n": 2}')
        status, _ = api("PATCH", "/v1/jobs/" + job_id, {"priority": "high"})
        self.assertEqual(status, 200)
        self.wait_for(EC.text_to_be_present_in_element((By.ID, "edit-stale"), "priority is now high"),
                      message="the live update did not reach the page")
        self.wait_for(lambda d: "high" in self.text_of("#job-summary dl"))
        self.assertEqual(self.driver.find_element(By.ID, "edit-payload").get_attribute("value"), '{"n": 2}')
        self.assertEqual(self.driver.execute_script("return document.activeElement.id"), "edit-payload")
        self.shot("13-edit-kept")


if __name__ == "__main__":
    unittest.main(verbosity=2)
