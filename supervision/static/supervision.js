// Every form with data-api posts its fields as JSON to that path (the login cookie rides along;
// the app checks the Origin), then reloads the page or shows the refusal.
document.querySelectorAll("form[data-api]").forEach((form) => {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    new FormData(form).forEach((v, k) => { body[k] = v; });
    const r = await fetch(form.dataset.api, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (r.ok) { location.reload(); return; }
    const err = await r.json().catch(() => ({ detail: r.statusText }));
    const out = form.querySelector(".msg");
    if (out) out.textContent = err.detail || "操作失败"; else alert(err.detail || "操作失败");
  });
});
