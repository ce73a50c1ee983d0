// 12345 热线百科 self-service page. Answers come sanitised from the server (p br b strong i em ul ol
// li a); they are parsed off-document and rebuilt from that allow-list with createElement and
// textContent, so nothing in an answer is ever run, even if a row escaped the sanitiser.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("search"), input = $("q"), scopeSel = $("scope"), button = $("btn-search");
  const statusEl = $("status"), list = $("results"), tpl = $("result");
  const ALLOWED = new Set(["P", "BR", "B", "STRONG", "I", "EM", "UL", "OL", "LI", "A"]);
  let cityScope = "city";

  function status(text, error) {
    statusEl.textContent = text;
    statusEl.classList.toggle("error", Boolean(error));
  }

  function scopeLabel(scope) {
    return scope === "city" || scope === cityScope ? "全市" : scope;
  }

  function safeHref(href) {
    try {
      const url = new URL(href, location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  // Copies the allowed elements and all text of ``from`` into ``to``; anything else keeps only its text.
  function copyAllowed(from, to) {
    for (const node of Array.from(from.childNodes)) {
      if (node.nodeType === Node.TEXT_NODE) {
        to.appendChild(document.createTextNode(node.textContent));
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        const tag = node.tagName.toUpperCase();
        if (tag === "SCRIPT" || tag === "STYLE" || tag === "TEMPLATE") continue;
        if (!ALLOWED.has(tag)) {
          copyAllowed(node, to);
          continue;
        }
        const el = document.createElement(tag.toLowerCase());
        if (tag === "A") {
          const href = safeHref(node.getAttribute("href") || "");
          if (href) {
            el.setAttribute("href", href);
            el.setAttribute("rel", "noopener noreferrer nofollow");
            el.setAttribute("target", "_blank");
          }
        }
        copyAllowed(node, el);
        to.appendChild(el);
      }
    }
  }

  function renderAnswer(html, box) {
    // DOMParser builds an inert document: its scripts never run and its images never load.
    const doc = new DOMParser().parseFromString(String(html || ""), "text/html");
    copyAllowed(doc.body, box);
  }

  function render(items) {
    list.replaceChildren();
    for (const item of items) {
      const li = tpl.content.firstElementChild.cloneNode(true);
      li.dataset.id = item.id;
      li.querySelector(".question").textContent = item.question;
      li.querySelector(".category").textContent = item.category || "其他";
      li.querySelector(".scope").textContent = scopeLabel(item.scope);
      renderAnswer(item.answer, li.querySelector(".answer"));
      list.appendChild(li);
    }
  }

  async function getJson(response) {
    if (response.status === 429) throw new Error("查询过于频繁，请稍后再试");
    if (!response.ok) throw new Error("查询暂时不可用，请稍后再试或拨打 12345");
    return response.json();
  }

  async function search(q, scope) {
    // POST: a long question does not fit in a URL; the server cuts it and says so.
    const found = await getJson(
      await fetch("/api/kb/public/search", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ q: q, scope: scope || null, limit: 10 }),
      })
    );
    const ids = found.results.map((r) => r.id);
    if (!ids.length) return { found: found, items: [] };
    const params = new URLSearchParams({ ids: ids.join(",") });
    const got = await getJson(await fetch("/api/kb/public/entries?" + params.toString()));
    return { found: found, items: got.items };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (!q) return;
    button.disabled = true;
    status("正在查询…");
    try {
      const { found, items } = await search(q, scopeSel.value);
      render(items);
      const cut = found.cut ? "（问题较长，已按前 " + found.query.length + " 字查询）" : "";
      status(items.length ? "找到 " + items.length + " 条相关问答" + cut : "没有找到相关问答，可以换个说法，或在线咨询、拨打 12345" + cut);
    } catch (err) {
      list.replaceChildren();
      status(err.message, true);
    } finally {
      button.disabled = false;
    }
  });

  async function loadScopes() {
    try {
      const data = await getJson(await fetch("/api/kb/public/scopes"));
      cityScope = data.city || cityScope;
      for (const scope of data.scopes) {
        const opt = document.createElement("option");
        opt.value = scope;
        opt.textContent = scopeLabel(scope);
        scopeSel.appendChild(opt);
      }
    } catch (err) {
      // The selector stays at 全部地区; searching still works.
    }
  }

  loadScopes();
  const initial = new URLSearchParams(location.search).get("q");
  if (initial) {
    input.value = initial;
    form.requestSubmit();
  }
})();
