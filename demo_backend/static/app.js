// FieldDesk mobile web app for rehearse's demo backend. Same-origin only; no external resources.
// The app never retries a request by itself: one tap on "Create job" is exactly one POST.
"use strict";

(function () {
  const TOKEN_KEY = "fielddesk.token";
  const USER_KEY = "fielddesk.user";
  const SCREENS = ["login-screen", "dashboard-screen", "new-job-screen"];
  const STATUS_LABELS = { scheduled: "Scheduled", in_progress: "In progress", on_hold: "On hold" };
  const money = new Intl.NumberFormat("en-IE", { style: "currency", currency: "EUR" });

  const $ = (id) => document.getElementById(id);
  let dashboardRequest = 0;
  let topClients = [];
  let jobAttempts = 0;

  function show(screenId) {
    for (const id of SCREENS) {
      $(id).hidden = id !== screenId;
    }
  }

  function setMessage(id, text) {
    const el = $(id);
    el.textContent = text || "";
    el.hidden = !text;
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function clearSession() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    const t = token();
    if (t) headers.Authorization = "Bearer " + t;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "same-origin",
    });
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch (e) {
        data = null;
      }
    }
    if (!response.ok) {
      const message = data && data.error ? data.error : "Request failed (" + response.status + ")";
      throw new ApiError(response.status, message);
    }
    return data;
  }

  function randomId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---- login -------------------------------------------------------------------------------
  async function onLogin(event) {
    event.preventDefault();
    const button = $("login-button");
    setMessage("login-error", "");
    const email = $("email").value.trim();
    const password = $("password").value;
    if (!email || !password) {
      setMessage("login-error", "Enter your email and password");
      return;
    }
    button.disabled = true;
    try {
      const data = await api("POST", "/api/auth/login", { email: email, password: password });
      sessionStorage.setItem(TOKEN_KEY, data.token);
      sessionStorage.setItem(USER_KEY, JSON.stringify(data.user));
      $("password").value = "";
      openDashboard();
    } catch (err) {
      const text = err instanceof ApiError && err.status === 401 ? "Invalid email or password" : err.message;
      setMessage("login-error", text || "Sign in failed");
    } finally {
      button.disabled = false;
    }
  }

  function openLogin() {
    clearSession();
    show("login-screen");
  }

  // ---- dashboard ---------------------------------------------------------------------------
  function renderDashboard(data) {
    $("stat-open-jobs").textContent = String(data.open_jobs_total);
    $("stat-jobs-week").textContent = String(data.jobs_this_week);
    $("stat-revenue-month").textContent = money.format(data.revenue_this_month_cents / 100);
    const byStatus = $("open-jobs-by-status");
    byStatus.replaceChildren();
    for (const [status, count] of Object.entries(data.open_jobs_by_status)) {
      const li = document.createElement("li");
      const label = STATUS_LABELS[status] || status;
      li.textContent = label + ": " + count;
      li.setAttribute("aria-label", label + " jobs");
      li.dataset.status = status;
      byStatus.appendChild(li);
    }
    const top = $("top-clients");
    top.replaceChildren();
    for (const client of data.top_clients) {
      const li = document.createElement("li");
      li.setAttribute("aria-label", "Client " + client.name);
      li.dataset.clientId = String(client.id);
      const amount = document.createElement("span");
      amount.className = "amount";
      amount.textContent = money.format(client.revenue_cents / 100);
      amount.setAttribute("aria-label", "Revenue of " + client.name);
      li.append(client.name, amount);
      top.appendChild(li);
    }
    topClients = data.top_clients;
  }

  async function openDashboard() {
    show("dashboard-screen");
    const user = JSON.parse(sessionStorage.getItem(USER_KEY) || "null");
    $("user-name").textContent = user ? user.name : "";
    const marker = $("dashboard-data");
    marker.hidden = true;
    marker.dataset.loaded = "false";
    setMessage("dashboard-error", "");
    $("dashboard-loading").hidden = false;
    const request = ++dashboardRequest;
    try {
      const data = await api("GET", "/api/dashboard");
      if (request !== dashboardRequest) return;
      renderDashboard(data);
      marker.dataset.loaded = "true";
      marker.hidden = false;
    } catch (err) {
      if (request !== dashboardRequest) return;
      if (err instanceof ApiError && err.status === 401) {
        openLogin();
        return;
      }
      setMessage("dashboard-error", "Could not load the dashboard: " + err.message);
    } finally {
      if (request === dashboardRequest) $("dashboard-loading").hidden = true;
    }
  }

  async function onLogout() {
    dashboardRequest++;
    try {
      await api("POST", "/api/auth/logout");
    } catch (e) {
      // the session is dropped locally either way
    }
    $("email").value = "";
    $("password").value = "";
    setMessage("login-error", "");
    openLogin();
  }

  // ---- new job -----------------------------------------------------------------------------
  async function fillClients() {
    const select = $("job-client");
    let clients = topClients;
    if (!clients.length) {
      try {
        clients = (await api("GET", "/api/clients?per_page=20")).items;
      } catch (e) {
        clients = [];
      }
    }
    select.replaceChildren();
    for (const client of clients) {
      const option = document.createElement("option");
      option.value = String(client.id);
      option.textContent = client.name;
      option.setAttribute("aria-label", "Client " + client.name);
      select.appendChild(option);
    }
  }

  function openNewJob() {
    dashboardRequest++;
    jobAttempts = 0;
    $("job-title").value = "";
    $("job-submit").disabled = false;
    const success = $("job-success");
    success.hidden = true;
    success.dataset.jobId = "";
    success.dataset.clientRef = "";
    setMessage("job-error", "");
    setMessage("job-retry", "");
    show("new-job-screen");
    fillClients();
  }

  async function onCreateJob(event) {
    event.preventDefault();
    const button = $("job-submit");
    if (button.disabled) return;
    const title = $("job-title").value.trim();
    const clientId = parseInt($("job-client").value, 10);
    setMessage("job-error", "");
    $("job-success").hidden = true;
    if (!title) {
      setMessage("job-error", "Enter a job title");
      return;
    }
    if (!Number.isInteger(clientId)) {
      setMessage("job-error", "Choose a client");
      return;
    }
    jobAttempts += 1;
    // Only a second tap by the user (after an error) is a retry; it is shown, never hidden.
    setMessage("job-retry", jobAttempts > 1 ? "Retry attempt " + (jobAttempts - 1) : "");
    const clientRef = randomId(); // fresh for every attempt
    button.disabled = true;
    try {
      const job = await api("POST", "/api/jobs", { title: title, client_id: clientId, client_ref: clientRef });
      const success = $("job-success");
      success.dataset.jobId = String(job.id);
      success.dataset.clientRef = clientRef;
      success.hidden = false;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        openLogin();
        return;
      }
      setMessage("job-error", "Could not create the job: " + err.message);
      button.disabled = false;
    }
  }

  function init() {
    $("login-form").addEventListener("submit", onLogin);
    $("logout-button").addEventListener("click", onLogout);
    $("new-job-button").addEventListener("click", openNewJob);
    $("back-button").addEventListener("click", openDashboard);
    $("new-job-form").addEventListener("submit", onCreateJob);
    $("app-loading").hidden = true;
    if (token()) {
      openDashboard();
    } else {
      show("login-screen");
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
