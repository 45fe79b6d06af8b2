// The stand-in's channel page: renders Block Kit, sends commands and clicks, follows state by long polling.
"use strict";

const $ = (selector) => document.querySelector(selector);

const page = {
  user: null,
  tab: "channel",
  revision: -1,
  data: null,
  poll: null,          // AbortController of the long poll in flight
  generation: 0,       // bumped on user switch so a late answer for the old user is dropped
  rendered: new Map(), // message ts -> {key, element}
  homeKey: null,
  modalKey: null,
  loaded: false,       // the first state since the page loaded has been drawn
};

// ---------- small helpers ----------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("data-") || name.startsWith("aria-") || name === "role") node.setAttribute(name, value);
    else node[name] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function postJSON(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let answer = null;
  try { answer = await response.json(); } catch { /* an empty or non-JSON answer */ }
  return answer || { ok: false, status: response.status, error: `HTTP ${response.status}` };
}

let toastTimer = null;
function toast(message) {
  const box = $("#toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

// Slack's words for an ack that did not come back as HTTP 200.
function failure(answer) {
  const error = answer.error || `HTTP ${answer.status}`;
  const match = /^http_(\d+)$/.exec(error);
  return match ? `"dispatch_failed" (the app answered HTTP ${match[1]})` : `"${error}"`;
}

function personName(id) {
  const person = page.data && page.data.people[id];
  return person ? person.name : id;
}

function formatTime(ts) {
  const date = new Date(parseFloat(ts) * 1000);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// ---------- text: mrkdwn and plain_text ----------

const EMOJI = {
  warning: "⚠️", white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", no_entry: "⛔",
  rotating_light: "🚨", money_with_wings: "💸", moneybag: "💰", dollar: "💵", chart_with_upwards_trend: "📈",
  chart_with_downwards_trend: "📉", bar_chart: "📊", hourglass: "⌛", hourglass_flowing_sand: "⏳",
  red_circle: "🔴", large_green_circle: "🟢", large_yellow_circle: "🟡", large_orange_circle: "🟠",
  green_circle: "🟢", yellow_circle: "🟡", orange_circle: "🟠", bell: "🔔", information_source: "ℹ️",
  thumbsup: "👍", "+1": "👍", thumbsdown: "👎", tada: "🎉", fire: "🔥", eyes: "👀", calendar: "📅",
  memo: "📝", bulb: "💡", lock: "🔒", stopwatch: "⏱️", pause_button: "⏸️", arrow_up: "⬆️",
  arrow_down: "⬇️", arrow_right: "➡️", robot_face: "🤖", mag: "🔍", gear: "⚙️", zap: "⚡",
  hammer_and_wrench: "🛠️", clipboard: "📋", receipt: "🧾", credit_card: "💳", sparkles: "✨",
  large_blue_circle: "🔵", black_circle: "⚫", white_circle: "⚪", octagonal_sign: "🛑", sos: "🆘",
  no_entry_sign: "🚫", heavy_multiplication_x: "✖️", exclamation: "❗", question: "❓",
  chart: "💹", money_mouth_face: "🤑", pushpin: "📌", link: "🔗", date: "📅", raised_hands: "🙌",
  large_red_square: "🟥", large_green_square: "🟩", large_yellow_square: "🟨", heavy_plus_sign: "➕",
  heavy_minus_sign: "➖", arrows_counterclockwise: "🔄", zzz: "💤", double_vertical_bar: "⏸️",
  arrow_forward: "▶️", seedling: "🌱",
};

function decodeEntities(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function emojify(text) {
  return text.replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI[name] || whole);
}

function textNode(raw) {
  return document.createTextNode(emojify(decodeEntities(raw)));
}

// One inline token at a time: code, <…> references, then *bold*, _italic_, ~strike~ at word edges.
const INLINE = new RegExp(
  [
    "`([^`\\n]+)`",
    "<([^<>\\n]+)>",
    "(?<![\\p{L}\\p{N}*])\\*(?=\\S)([^*\\n]+?)\\*(?![\\p{L}\\p{N}*])",
    "(?<![\\p{L}\\p{N}_])_(?=\\S)([^_\\n]+?)_(?![\\p{L}\\p{N}_])",
    "(?<![\\p{L}\\p{N}~])~(?=\\S)([^~\\n]+?)~(?![\\p{L}\\p{N}~])",
  ].join("|"),
  "gu",
);

function reference(inner) {
  const [target, label] = splitOnce(inner, "|");
  if (target.startsWith("@")) {
    return el("span", { class: "mention", "data-user": target.slice(1), text: "@" + (label || personName(target.slice(1))) });
  }
  if (target.startsWith("#")) {
    return el("span", { class: "mention channel", text: "#" + (label || target.slice(1)) });
  }
  if (target.startsWith("!")) {
    const name = target.slice(1).split("^")[0];
    if (["here", "channel", "everyone"].includes(name)) return el("span", { class: "mention", text: "@" + name });
    return textNode(label || target.slice(1));
  }
  const url = decodeEntities(target);
  const text = label ? decodeEntities(label) : url;
  if (!/^(https?:|mailto:)/i.test(url)) return document.createTextNode(text);
  return el("a", { href: url, target: "_blank", rel: "noopener noreferrer", text });
}

function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

function inline(raw, into) {
  let last = 0;
  for (const match of raw.matchAll(INLINE)) {
    if (match.index > last) into.append(textNode(raw.slice(last, match.index)));
    const [, code, ref, bold, italic, strike] = match;
    if (code !== undefined) into.append(el("code", { text: decodeEntities(code) }));
    else if (ref !== undefined) into.append(reference(ref));
    else {
      const tag = bold !== undefined ? "strong" : italic !== undefined ? "em" : "s";
      const wrapper = el(tag);
      inline(bold ?? italic ?? strike, wrapper);
      into.append(wrapper);
    }
    last = match.index + match[0].length;
  }
  if (last < raw.length) into.append(textNode(raw.slice(last)));
}

function mrkdwn(raw) {
  const root = el("div", { class: "text mrkdwn" });
  const parts = raw.split(/```/);
  parts.forEach((part, index) => {
    if (index % 2 === 1) {
      root.append(el("pre", { text: decodeEntities(part.replace(/^\n/, "")) }));
      return;
    }
    const lines = part.split("\n");
    let quote = null;
    lines.forEach((line, lineIndex) => {
      const quoted = /^(&gt;|>) ?/.exec(line);
      if (quoted) {
        if (!quote) { quote = el("blockquote"); root.append(quote); }
        else quote.append("\n");
        inline(line.slice(quoted[0].length), quote);
        return;
      }
      quote = null;
      inline(line, root);
      if (lineIndex < lines.length - 1) root.append("\n");
    });
  });
  return root;
}

function plainText(object) {
  if (!object) return "";
  return typeof object === "string" ? object : emojify(decodeEntities(object.text || ""));
}

function renderText(object) {
  if (!object) return el("div");
  if (object.type === "mrkdwn") return mrkdwn(object.text || "");
  return el("div", { class: "text plain", text: plainText(object) });
}

// ---------- Block Kit ----------

function button(element, blockId, context) {
  const style = element.style || "default";
  const node = el("button", {
    type: "button",
    class: `block-button ${style}`,
    "data-action-id": element.action_id,
    "data-block-id": blockId,
    "data-style": style,
    text: plainText(element.text),
  });
  node.addEventListener("click", async () => {
    if (element.url) window.open(element.url, "_blank", "noopener");
    if (element.confirm && !(await askConfirm(element.confirm))) return;
    node.disabled = true;
    node.classList.add("pending");
    try {
      const answer = await context.click(element.action_id, blockId);
      if (!answer.ok) toast(`That didn't work: the app answered with ${failure(answer)}.`);
    } catch (error) {
      toast(`That didn't work: ${error}`);
    } finally {
      node.disabled = false;
      node.classList.remove("pending");
    }
  });
  return node;
}

function image(element, className) {
  // An image block names its picture by URL, or as a file uploaded to Slack (slack_file: {id} or {url}).
  const file = element.slack_file || {};
  const src = element.image_url || file.url || (file.id ? `/files/${file.id}/image` : "");
  const img = el("img", { src, alt: element.alt_text || "", class: className, loading: "lazy" });
  // No internet here: show the alt text where an image cannot load.
  img.addEventListener("error", () => img.replaceWith(el("span", { class: `${className} missing-image`, text: element.alt_text || "image" })));
  return img;
}

function element(elementSpec, blockId, context) {
  switch (elementSpec.type) {
    case "button": return button(elementSpec, blockId, context);
    case "image": return image(elementSpec, "element-image");
    case "mrkdwn":
    case "plain_text": return renderText(elementSpec);
    default: return el("span", { class: "unsupported", text: `[${elementSpec.type}]` });
  }
}

function richText(elements) {
  const root = el("div", { class: "text rich" });
  const runs = (items, into) => {
    for (const item of items || []) {
      if (item.type === "text") {
        let node = document.createTextNode(item.text);
        const style = item.style || {};
        if (style.code) node = el("code", {}, node);
        if (style.bold) node = el("strong", {}, node);
        if (style.italic) node = el("em", {}, node);
        if (style.strike) node = el("s", {}, node);
        into.append(node);
      } else if (item.type === "link") {
        into.append(el("a", { href: item.url, target: "_blank", rel: "noopener noreferrer", text: item.text || item.url }));
      } else if (item.type === "user") {
        into.append(el("span", { class: "mention", text: "@" + personName(item.user_id) }));
      } else if (item.type === "emoji") {
        into.append(EMOJI[item.name] || `:${item.name}:`);
      }
    }
  };
  for (const part of elements || []) {
    if (part.type === "rich_text_section") { const p = el("div"); runs(part.elements, p); root.append(p); }
    else if (part.type === "rich_text_preformatted") { const p = el("pre"); runs(part.elements, p); root.append(p); }
    else if (part.type === "rich_text_quote") { const p = el("blockquote"); runs(part.elements, p); root.append(p); }
    else if (part.type === "rich_text_list") {
      const list = el(part.style === "ordered" ? "ol" : "ul");
      for (const item of part.elements || []) { const li = el("li"); runs(item.elements, li); list.append(li); }
      root.append(list);
    }
  }
  return root;
}

function inputBlock(block, view) {
  const spec = block.element || {};
  const id = `input-${block.block_id}`;
  const common = {
    id,
    name: id,
    class: "input",
    "data-block-id": block.block_id,
    "data-action-id": spec.action_id,
    placeholder: plainText(spec.placeholder),
  };
  let control;
  if (spec.type === "plain_text_input" && spec.multiline) {
    control = el("textarea", { ...common, rows: 4 });
  } else if (["plain_text_input", "number_input", "email_text_input", "url_text_input"].includes(spec.type)) {
    const kind = { number_input: "text", email_text_input: "email", url_text_input: "url" }[spec.type] || "text";
    control = el("input", { ...common, type: kind });
    if (spec.type === "number_input") control.inputMode = spec.is_decimal_allowed ? "decimal" : "numeric";
  } else {
    control = el("span", { class: "unsupported", text: `[${spec.type} input]` });
  }
  if (spec.initial_value !== undefined && "value" in control) control.value = spec.initial_value;
  if (spec.max_length && "maxLength" in control) control.maxLength = spec.max_length;
  const error = view && view.errors && view.errors[block.block_id];
  return el("div", { class: `block block-input${error ? " has-error" : ""}`, "data-block-id": block.block_id },
    el("label", { htmlFor: id, class: "input-label" }, plainText(block.label),
      block.optional ? el("span", { class: "optional", text: " (optional)" }) : null),
    control,
    block.hint ? el("div", { class: "hint", text: plainText(block.hint) }) : null,
    error ? el("div", { class: "input-error", "data-block-id": block.block_id, role: "alert", text: error }) : null,
  );
}

function block(spec, context) {
  const blockId = spec.block_id;
  switch (spec.type) {
    case "header":
      return el("div", { class: "block block-header", "data-block-id": blockId, text: plainText(spec.text) });
    case "divider":
      return el("hr", { class: "block block-divider" });
    case "section": {
      const node = el("div", { class: "block block-section", "data-block-id": blockId });
      const main = el("div", { class: "section-main" });
      if (spec.text) main.append(renderText(spec.text));
      if (spec.fields) main.append(el("div", { class: "fields" }, spec.fields.map(renderText)));
      node.append(main);
      if (spec.accessory) {
        const accessory = spec.accessory.type === "image"
          ? image(spec.accessory, "accessory-image")
          : element(spec.accessory, blockId, context);
        node.append(el("div", { class: "accessory" }, accessory));
      }
      return node;
    }
    case "context":
      return el("div", { class: "block block-context", "data-block-id": blockId },
        (spec.elements || []).map((item) => item.type === "image" ? image(item, "context-image") : renderText(item)));
    case "actions":
      return el("div", { class: "block block-actions", "data-block-id": blockId },
        (spec.elements || []).map((item) => element(item, blockId, context)));
    case "image":
      return el("figure", { class: "block block-image", "data-block-id": blockId },
        spec.title ? el("figcaption", { text: plainText(spec.title) }) : null,
        image(spec, "block-image-img"));
    case "input":
      return inputBlock(spec, context.view);
    case "rich_text":
      return el("div", { class: "block block-rich-text", "data-block-id": blockId }, richText(spec.elements));
    case "markdown":
      return el("div", { class: "block block-markdown", "data-block-id": blockId }, mrkdwn(spec.text || ""));
    default:
      return el("div", { class: "block unsupported", text: `[unsupported block: ${spec.type}]` });
  }
}

function blocks(list, context) {
  return el("div", { class: "blocks" }, (list || []).map((spec) => block(spec, context)));
}

// ---------- confirm dialog ----------

function askConfirm(confirm) {
  const dialog = $("#confirm-dialog");
  const ok = $("#confirm-ok");
  const deny = $("#confirm-deny");
  $("#confirm-title").textContent = plainText(confirm.title) || "Are you sure?";
  $("#confirm-text").replaceChildren(renderText(confirm.text));
  ok.textContent = plainText(confirm.confirm) || "Yes";
  deny.textContent = plainText(confirm.deny) || "Cancel";
  ok.className = confirm.style === "danger" ? "danger" : "primary";
  return new Promise((resolve) => {
    const finish = (answer) => {
      ok.onclick = deny.onclick = dialog.oncancel = null;
      dialog.close();
      resolve(answer);
    };
    ok.onclick = () => finish(true);
    deny.onclick = () => finish(false);
    dialog.oncancel = (event) => { event.preventDefault(); finish(false); };
    dialog.showModal();
    deny.focus();
  });
}

// ---------- messages ----------

function messageKey(message) {
  return JSON.stringify([message.text, message.blocks, message.edited, message.ephemeral, message.files]);
}

function renderMessage(message) {
  const author = personName(message.user);
  const isBot = page.data.people[message.user] && page.data.people[message.user].is_bot;
  const context = {
    view: null,
    click: (actionId) => postJSON("/_standin/ui/click", { user_id: page.user, message_ts: message.ts, action_id: actionId }),
  };
  const body = message.blocks && message.blocks.length ? blocks(message.blocks, context) : mrkdwn(message.text || "");
  return el("article", {
    class: `message${message.ephemeral ? " ephemeral" : ""}`,
    "data-ts": message.ts,
    "data-user": message.user,
    "data-ephemeral": String(message.ephemeral),
    "data-via": message.via,
    "data-bot": String(Boolean(isBot)),
  },
    el("div", { class: "avatar", "aria-hidden": "true", text: (author || "?").slice(0, 1).toUpperCase() }),
    el("div", { class: "message-body" },
      el("div", { class: "message-meta" },
        el("span", { class: "author", text: author }),
        isBot ? el("span", { class: "app-badge", text: "APP" }) : null,
        el("time", { dateTime: new Date(parseFloat(message.ts) * 1000).toISOString(), text: formatTime(message.ts) }),
        message.edited ? el("span", { class: "edited", text: "(edited)" }) : null),
      message.ephemeral ? el("div", { class: "ephemeral-note", text: "Only visible to you" }) : null,
      body,
      ...(message.files || []).map(sharedFile)),
  );
}

// A file shared with the message: images inline, as Slack shows them, other files as a link.
function sharedFile(file) {
  const url = new URL(file.url_private).pathname;
  if ((file.mimetype || "").startsWith("image/")) {
    return el("figure", { class: "shared-file" },
      el("img", { class: "shared-image", src: url, alt: file.alt_txt || file.title || file.name, "data-file-id": file.id }),
      el("figcaption", { text: file.title || file.name }));
  }
  return el("a", { class: "shared-file", href: url, text: file.title || file.name });
}

function renderMessages(messages) {
  const list = $("#messages");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const seen = new Set();
  const ordered = [];
  for (const message of messages) {
    seen.add(message.ts);
    const key = messageKey(message);
    let entry = page.rendered.get(message.ts);
    if (!entry || entry.key !== key) {
      const fresh = renderMessage(message);
      if (entry) entry.element.replaceWith(fresh);
      entry = { key, element: fresh };
      page.rendered.set(message.ts, entry);
    }
    ordered.push(entry.element);
  }
  for (const [ts, entry] of page.rendered) {
    if (!seen.has(ts)) { entry.element.remove(); page.rendered.delete(ts); }
  }
  let intro = $("#channel-intro");
  if (!intro) {
    intro = el("div", { id: "channel-intro", class: "channel-intro" });
    list.prepend(intro);
  }
  intro.textContent = `This is the very beginning of #${page.data.channel.name}. Type ${page.data.command} help to start.`;
  // Re-append in order; elements already in place do not move, so nothing flickers.
  let previous = intro;
  for (const node of ordered) {
    if (previous.nextSibling !== node) previous.after(node);
    previous = node;
  }
  if (nearBottom) list.scrollTop = list.scrollHeight;
}

// ---------- App Home and modal ----------

function viewContext(view) {
  return {
    view,
    click: (actionId) => postJSON("/_standin/ui/click", {
      user_id: page.user, view_id: view.id, action_id: actionId, values: view.type === "modal" ? modalValues() : null,
    }),
  };
}

function renderHome(home) {
  const key = home ? `${home.id}:${home.hash}` : "none";
  if (key === page.homeKey) return;
  page.homeKey = key;
  const pane = $("#home");
  if (!home) {
    pane.replaceChildren(el("p", { class: "empty", text: "The app has not published a Home tab for you yet." }));
    return;
  }
  pane.replaceChildren(el("div", { class: "view", "data-view-id": home.id }, blocks(home.blocks, viewContext({ ...home, type: "home" }))));
}

function modalValues() {
  const values = {};
  for (const input of document.querySelectorAll("#modal-body [data-action-id]")) {
    if (!("value" in input) || input.tagName === "BUTTON") continue;
    const blockId = input.dataset.blockId;
    values[blockId] = values[blockId] || {};
    values[blockId][input.dataset.actionId] = input.value;
  }
  return values;
}

function renderModal(modal) {
  const dialog = $("#modal");
  if (!modal) {
    page.modalKey = null;
    if (dialog.open) dialog.close();
    return;
  }
  const key = JSON.stringify([modal.id, modal.hash, modal.errors, modal.notice]);
  if (key === page.modalKey) return;
  const sameView = dialog.dataset.viewId === modal.id;
  const typed = sameView ? modalValues() : {};
  page.modalKey = key;
  dialog.dataset.viewId = modal.id;
  $("#modal-title").textContent = plainText(modal.title) || "Modal";
  $("#modal-submit").textContent = plainText(modal.submit) || "Submit";
  $("#modal-submit").hidden = !modal.submit && !modal.blocks.some((b) => b.type === "input");
  $("#modal-close").textContent = plainText(modal.close) || "Cancel";
  $("#modal-notice").textContent = modal.notice || "";
  $("#modal-notice").hidden = !modal.notice;
  $("#modal-body").replaceChildren(blocks(modal.blocks, viewContext({ ...modal, type: "modal" })));
  // Keep what the user typed across a re-render (errors arriving, say).
  for (const [blockId, actions] of Object.entries(typed)) {
    for (const [actionId, value] of Object.entries(actions)) {
      const input = document.querySelector(`#modal-body [data-block-id="${CSS.escape(blockId)}"][data-action-id="${CSS.escape(actionId)}"]`);
      if (input) input.value = value;
    }
  }
  if (!dialog.open) dialog.showModal();
  const firstError = document.querySelector("#modal-body .has-error .input");
  if (firstError) firstError.focus();
}

async function submitModal(event) {
  event.preventDefault();
  const submit = $("#modal-submit");
  submit.disabled = true;
  try {
    const answer = await postJSON("/_standin/ui/submit", { user_id: page.user, view_id: $("#modal").dataset.viewId, values: modalValues() });
    if (!answer.ok) toast(`Submitting failed: ${failure(answer)}.`);
  } finally {
    submit.disabled = false;
  }
}

async function closeModal() {
  $("#modal").close();
  page.modalKey = null;
  await postJSON("/_standin/ui/close", { user_id: page.user });
}

// ---------- state, polling, controls ----------

function renderUsers(users) {
  const switcher = $("#user-switcher");
  const wanted = users.map((u) => `${u.id}:${u.label}`).join("|");
  if (switcher.dataset.users !== wanted) {
    switcher.replaceChildren(...users.map((u) => el("option", { value: u.id, text: u.label })));
    switcher.dataset.users = wanted;
  }
  switcher.value = page.user;
}

function apply(data) {
  page.data = data;
  page.revision = data.revision;
  if (!page.user) page.user = data.user;
  $("#channel-name").textContent = data.channel.name;
  $("#bot-name").textContent = data.bot.name;
  $("#composer").placeholder = `Message #${data.channel.name} — try ${data.command} help`;
  if (page.tab === "channel") $("#pane-title").textContent = `# ${data.channel.name}`;
  $("#bot-status").hidden = data.bot_ready;
  renderUsers(data.users);
  renderMessages(data.messages);
  renderHome(data.home);
  if (!page.loaded && data.modal) {
    // A modal an earlier load of the page left open is dropped, as Slack drops one when its client reloads.
    postJSON("/_standin/ui/close", { user_id: page.user });
    renderModal(null);
  } else {
    renderModal(data.modal);
  }
  page.loaded = true;
}

function setConnection(state, text) {
  const badge = $("#connection");
  badge.dataset.state = state;
  badge.textContent = text;
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function pollForever() {
  for (;;) {
    const generation = page.generation;
    page.poll = new AbortController();
    const query = new URLSearchParams({ since: String(page.revision) });
    if (page.user) query.set("user", page.user);
    try {
      const response = await fetch(`/_standin/state?${query}`, { signal: page.poll.signal, cache: "no-store" });
      if (response.status === 404 && page.user) {
        page.user = null; // remembered from an earlier run whose users differ: fall back to the default
        continue;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      if (generation !== page.generation) continue;
      apply(data);
      setConnection("live", "live");
    } catch (error) {
      if (generation !== page.generation) continue; // aborted on purpose by a user switch
      setConnection("offline", "reconnecting…");
      await pause(1000);
    }
  }
}

function restartPolling() {
  page.generation += 1;
  page.revision = -1;
  page.rendered.forEach((entry) => entry.element.remove());
  page.rendered.clear();
  page.homeKey = page.modalKey = null;
  if (page.poll) page.poll.abort();
}

function switchUser(userId) {
  page.user = userId;
  localStorage.setItem("standin-user", userId);
  const url = new URL(window.location.href);
  url.searchParams.set("user", userId);
  history.replaceState(null, "", url);
  restartPolling();
  if (page.tab === "home") openHome();
}

function showError(selector, message) {
  const line = $(selector);
  line.textContent = message || "";
  line.hidden = !message;
}

async function sendComposer(event) {
  event.preventDefault();
  const input = $("#composer");
  const text = input.value.trim();
  if (!text) return;
  showError("#composer-error", "");
  const send = $("#composer-send");
  send.disabled = true;
  $("#composer-status").textContent = text.startsWith("/") ? `Sending ${text.split(" ")[0]}…` : "";
  try {
    const answer = await postJSON("/_standin/ui/command", { user_id: page.user, text });
    if (answer.ok) {
      input.value = "";
      $("#composer-status").textContent = answer.kind === "command"
        ? `${text} · acknowledged in ${answer.latency_ms} ms`
        : "";
    } else {
      $("#composer-status").textContent = "";
      const command = text.split(" ")[0];
      showError("#composer-error", answer.status === 0 && !answer.kind
        ? answer.error
        : `${command} failed with the error ${failure(answer)}`);
    }
  } catch (error) {
    showError("#composer-error", `Could not reach the stand-in: ${error}`);
  } finally {
    send.disabled = false;
    input.focus();
  }
}

async function openHome() {
  showError("#home-error", "");
  const answer = await postJSON("/_standin/ui/home", { user_id: page.user });
  if (!answer.ok) showError("#home-error", `Opening the Home tab failed with the error ${failure(answer)}`);
}

function showTab(tab) {
  page.tab = tab;
  for (const button of document.querySelectorAll(".tab")) button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  $("#channel-pane").hidden = tab !== "channel";
  $("#home-pane").hidden = tab !== "home";
  $("#pane-title").textContent = tab === "home"
    ? `${page.data ? page.data.bot.name : "App"} · Home`
    : `# ${page.data ? page.data.channel.name : "channel"}`;
  if (tab === "home") openHome();
}

function start() {
  const fromUrl = new URL(window.location.href).searchParams.get("user");
  page.user = fromUrl || localStorage.getItem("standin-user") || null;
  $("#composer-form").addEventListener("submit", sendComposer);
  $("#user-switcher").addEventListener("change", (event) => switchUser(event.target.value));
  $("#tab-channel").addEventListener("click", () => showTab("channel"));
  $("#tab-home").addEventListener("click", () => showTab("home"));
  $("#modal-form").addEventListener("submit", submitModal);
  $("#modal-close").addEventListener("click", closeModal);
  $("#modal-x").addEventListener("click", closeModal);
  $("#modal").addEventListener("cancel", (event) => { event.preventDefault(); closeModal(); });
  pollForever();
}

start();
