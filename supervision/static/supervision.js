// Every form with data-api posts its fields as JSON to that path (the login cookie rides along;
// the app checks the Origin), then reloads the page or shows the refusal. data-ints names fields
// holding "1, 2" lists of integers, data-numbers numeric fields, data-lists fields sent as a list
// of every value checked. A rule run over the cap answers 409 with a token: the count is shown and
// the run is sent again with the token only if the supervisor confirms.
function fields(form) {
  const names = (attr) => (form.dataset[attr] || "").split(" ").filter(Boolean);
  const body = {};
  const data = new FormData(form);
  data.forEach((v, k) => { body[k] = v; });
  for (const k of names("ints")) {
    body[k] = String(body[k] || "").split(/[,，\s]+/).filter(Boolean).map(Number);
  }
  for (const k of names("numbers")) { if (body[k] !== undefined && body[k] !== "") body[k] = Number(body[k]); }
  for (const k of names("lists")) { body[k] = data.getAll(k); }
  for (const k of Object.keys(body)) { if (body[k] === "") delete body[k]; }
  return body;
}

async function post(path, body) {
  const r = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  return { r, answer: await r.json().catch(() => ({ detail: r.statusText })) };
}

document.querySelectorAll("form[data-api]").forEach((form) => {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = fields(form);
    let { r, answer } = await post(form.dataset.api, body);
    if (r.status === 409 && answer.confirm) {
      if (!window.confirm(`本次将生成 ${answer.count} 份提醒函，超过上限 ${answer.cap} 份。确定全部发出？`)) return;
      ({ r, answer } = await post(form.dataset.api, { ...body, confirm: answer.confirm }));
    }
    if (r.ok) { location.reload(); return; }
    const out = form.querySelector(".msg");
    if (out) out.textContent = answer.detail || "操作失败"; else alert(answer.detail || "操作失败");
  });
});
