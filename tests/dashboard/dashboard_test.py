#!/usr/bin/env python3
"""The web dashboard in a real headless Chromium (Debian's chromium and chromium-driver, driven
by python3-selenium): a `reka` job runs in the background on 127.0.0.1; the page must load,
show the job's graph, live throughput, watermarks, the windows waiting to fire and the
checkpoint history, keep them current, and its stop button must stop the job with a savepoint.
Screenshots are kept in the work directory as test artifacts.

With --measure-load N the script instead reports how long the first page takes to become usable
(every part drawn) for a SQL job of about N operators (bench/RESULTS.md); it asserts nothing
about time.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def fail(message):
    print("dashboard test: FAILED: " + message, file=sys.stderr)
    sys.exit(1)


def wait_for(what, predicate, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    fail("timed out after %.0f s waiting for %s" % (timeout, what))


def start_job(reka, workdir, args):
    env = dict(os.environ, XDG_RUNTIME_DIR=os.path.join(workdir, "runtime"))
    os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)
    err_path = os.path.join(workdir, "reka.err")
    err = open(err_path, "w")
    proc = subprocess.Popen([reka] + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)

    def announced():
        m = re.search(r"at (http://127\.0\.0\.1:\d+/) \(job ([0-9a-f]{32})\)", open(err_path).read())
        if proc.poll() is not None:
            fail("reka exited early: " + open(err_path).read())
        return m

    m = wait_for("the job's REST address", announced, timeout=60)
    url, job_id = m.group(1), m.group(2)
    entry = json.load(open(os.path.join(env["XDG_RUNTIME_DIR"], "reka", job_id + ".json")))
    return proc, err_path, url, job_id, entry["token"]


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def browser(workdir):
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1800",
              "--user-data-dir=" + os.path.join(workdir, "chromium-profile")]:
        options.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver", log_output=os.path.join(workdir, "chromedriver.log")),
                            options=options)


def text_of(driver, css):
    # Read in the page in one step: the page redraws every second, and an element reference held
    # across two WebDriver calls can go stale in between.
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css)


def texts_of(driver, css):
    return driver.execute_script("return Array.from(document.querySelectorAll(arguments[0])).map(e => e.textContent);", css)


def functional_test(reka, workdir):
    state = os.path.join(workdir, "state")
    proc, err_path, url, job_id, token = start_job(
        reka, workdir, ["nexmark", "run", "--query", "q5", "--events", "1000000000", "--rate", "20000", "--no-progress",
                        "--name", "dashboard-test", "--state-dir", state, "--checkpoint-interval", "300ms"])
    driver = browser(workdir)
    try:
        started = time.monotonic()
        driver.get(url + "#token=" + token)
        wait_for("the first page", lambda: driver.execute_script("return document.body.dataset.loaded === 'true'"), timeout=20)
        print("dashboard test: first page usable after %.2f s" % (time.monotonic() - started))

        job = get_json(url + "jobs/" + job_id)
        vertices = job["vertices"]
        nodes = texts_of(driver, "#graph g.node")
        if len(nodes) != len(vertices):
            fail("the graph shows %d operators, the job has %d" % (len(nodes), len(vertices)))
        names = " ".join(nodes)
        for v in vertices:
            if v["name"][:20] not in names:
                fail("operator %r is not in the graph (%s)" % (v["name"], names))
        if "RUNNING" not in text_of(driver, "#job-state"):
            fail("the state shows " + text_of(driver, "#job-state"))
        if token != driver.execute_script("return sessionStorage.getItem('reka-token')"):
            fail("the token from the URL's fragment was not kept")
        if "#token" in driver.current_url:
            fail("the token stays in the address bar")

        # Live figures: the throughput line, rates, checkpoints and watermarks fill in and move.
        def throughput():
            m = re.search(r"now: ([0-9.]+) ?(K|M)? records/s", text_of(driver, "#throughput-now"))
            return m and float(m.group(1)) > 0
        wait_for("a non-zero throughput", throughput, timeout=30)
        wait_for("completed checkpoints in the history",
                 lambda: "COMPLETED" in text_of(driver, "#checkpoints tbody"), timeout=30)
        wait_for("watermarks per subtask", lambda: len(texts_of(driver, "#watermarks tbody tr")) >= len(vertices))
        wait_for("the windows waiting to fire", lambda: "earliest pending window" in text_of(driver, "#why"), timeout=30)
        why = text_of(driver, "#why")
        if "held back by" not in why or "(source)" not in why:
            fail("the pending-window view does not name what holds the watermark back: " + why)
        records_before = get_json(url + "jobs/" + job_id)["source-records"]
        shown_before = text_of(driver, "#job-uptime")
        time.sleep(2.5)
        if text_of(driver, "#job-uptime") == shown_before:
            fail("the page does not refresh: " + shown_before)
        if get_json(url + "jobs/" + job_id)["source-records"] <= records_before:
            fail("the job does not advance")
        if "parallelism.default" not in text_of(driver, "#config tbody"):
            fail("the configuration table is empty")
        driver.save_screenshot(os.path.join(workdir, "dashboard-running.png"))

        # The stop button stops the job with a savepoint; the command exits 0.
        driver.find_element(By.ID, "stop-button").click()
        wait_for("the stop's answer", lambda: "savepoint" in text_of(driver, "#message"), timeout=60)
        if "failed" in text_of(driver, "#message"):
            fail("the stop failed: " + text_of(driver, "#message"))
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            fail("the job did not end after the stop button")
        if code != 0:
            fail("reka exited with %d: %s" % (code, open(err_path).read()))
        if "stopped through the REST API with savepoint" not in open(err_path).read():
            fail("reka did not report the stop: " + open(err_path).read())
        driver.save_screenshot(os.path.join(workdir, "dashboard-stopped.png"))
        print("dashboard test: ok (screenshots in %s)" % workdir)
    finally:
        driver.quit()
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()


def measure_load(reka, workdir, operators):
    """A SQL job of at least `operators` operators: INSERTs that share one datagen source, each a
    filter/project and a sink (two operators each); the time from navigation to a fully drawn
    page."""
    pipelines = max(1, operators // 2)
    script = ["CREATE TABLE src (id BIGINT, v BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1000');",
              "CREATE TABLE out (id BIGINT, v BIGINT) WITH ('connector' = 'blackhole');"]
    for i in range(pipelines):
        script.append("INSERT INTO out SELECT id, v + %d FROM src WHERE MOD(v, %d) = 0;" % (i, i + 2))
    path = os.path.join(workdir, "many.sql")
    open(path, "w").write("\n".join(script) + "\n")
    proc, _, url, job_id, token = start_job(reka, workdir, ["run", path, "--parallelism", "1"])
    driver = browser(workdir)
    try:
        vertices = len(get_json(url + "jobs/" + job_id)["vertices"])
        times = []
        for _ in range(5):
            driver.get("about:blank")
            started = time.monotonic()
            driver.get(url + "#token=" + token)
            wait_for("the page", lambda: driver.execute_script("return document.body.dataset.loaded === 'true'"), timeout=30,
                     interval=0.005)
            times.append(time.monotonic() - started)
        times.sort()
        print("dashboard load for a job of %d operators: median %.3f s, min %.3f s, max %.3f s (5 loads)"
              % (vertices, times[2], times[0], times[-1]))
        driver.save_screenshot(os.path.join(workdir, "dashboard-%d-operators.png" % vertices))
    finally:
        driver.quit()
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reka", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--measure-load", type=int, default=0)
    a = p.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    if a.measure_load:
        measure_load(a.reka, a.workdir, a.measure_load)
    else:
        functional_test(a.reka, a.workdir)


if __name__ == "__main__":
    main()
