// 排班页面的操作：通过 JSON 接口启用/结束应急扩容，结果显示在页面上。
"use strict";
(function () {
  const form = document.getElementById("surge-form");
  const msg = document.getElementById("msg");
  if (!form) return;

  async function send(body) {
    const resp = await fetch("/api/scheduling/actions", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await resp.json().catch(() => ({}));
    msg.textContent = resp.ok ? "已执行：" + (data.outputs || []).length + " 项变更" : "失败：" + (data.detail || resp.status);
    if (resp.ok) setTimeout(() => location.reload(), 800);
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const skill = String(f.get("skill") || "general");
    const seats = String(f.get("seats") || "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => {
        const [id, number] = s.split(":");
        return { seat_id: id, number: number || null, skills: { [skill]: 1 } };
      });
    const minutes = f.get("minutes") ? Number(f.get("minutes")) : null;
    send({ action: "surge", why: f.get("why"), seats: seats, minutes: minutes });
  });

  document.getElementById("end-surge").addEventListener("click", () => {
    const why = new FormData(form).get("why") || "话务恢复正常";
    send({ action: "end_surge", why: why });
  });
})();
