/*! csbot chat widget · protocol v1 (docs/protocol.md) · docs/widget.md · Apache-2.0 */
(() => {
  "use strict";

  const script =
    document.currentScript || document.querySelector('script[data-site][src*="csbot/widget"]');
  if (!script || (window.csbot && window.csbot.version)) return;

  // Calls made before this file loaded: window.csbot = {q: [["open"], ...]} (docs/widget.md).
  const early = window.csbot && Array.isArray(window.csbot.q) ? window.csbot.q : [];
  const SITE = script.getAttribute("data-site") || "";
  const ORIGIN = new URL(script.src, location.href).origin;
  const KEY = `csbot:${SITE}:`;
  // The server's limits (docs/protocol.md): 2000 characters (code points) a message, 8 KiB a
  // frame (CSBOT_MAX_FRAME_BYTES). Escaped control characters can still overflow the frame.
  const MAX_CHARS = 2000;
  const MAX_FRAME_BYTES = 8192;
  const MAX_COMMENT = 1000;
  const COUNT_FROM = MAX_CHARS * 0.8; // the counter shows from here on

  const STRINGS = {
    en: {
      open: "Open chat",
      close: "Close chat",
      unread: (n) => (n === 1 ? "1 unread message" : `${n} unread messages`),
      log: "Conversation",
      message: "Message",
      placeholder: "Type your question…",
      send: "Send",
      status: {
        bot: "Virtual assistant",
        waiting: "Waiting for an agent…",
        agent: "Chatting with an agent",
        closed: "Conversation closed",
      },
      connecting: "Connecting…",
      offline: "Reconnecting…",
      author: { visitor: "You", bot: "Assistant", agent: "Agent", system: "Notice" },
      typing: "Typing",
      sending: "Sending…",
      yesterday: "Yesterday",
      failed: "Not sent: ",
      retry: "Retry",
      sources: "Sources",
      source: "Source",
      interrupted: "This answer was cut off.",
      unavailable: "Chat is not available on this page.",
      placeholderClosed: "Start a new conversation…",
      newConversation: "New conversation",
      human: "Talk to a human",
      over: (n) => ` · ${n} too many`,
      dismiss: "Dismiss",
      leave: "Leave us a message",
      leaveHint: "We will reply here and by email.",
      back: (when) => `Our team is back ${when}.`,
      name: "Name (optional)",
      email: "Email",
      text: "Your message",
      sendLeave: "Send message",
      emailInvalid: "Please enter a valid email address, like name@example.com.",
      nameInvalid: "Please enter your name without special characters, in at most 200 characters.",
      textRequired: "Please write your message.",
      prechat: "Before we start",
      prechatHint: "Leave your email so our team can reply to you there too.",
      emailOptional: "Email (optional)",
      start: "Start chat",
      skip: "Skip",
      rate: "Was this answer helpful?",
      up: "Helpful",
      down: "Not helpful",
      why: "What went wrong? (optional)",
      thanks: "Thanks for your feedback.",
      csat: "How would you rate the help you received?",
      stars: ["Very poor", "Poor", "Okay", "Good", "Excellent"],
      comment: "Comment (optional)",
      pick: "Please choose a rating from 1 to 5.",
      rateSend: "Submit rating",
      submit: "Submit",
      csatThanks: "Thank you for your rating!",
      attach: "Attach a file",
      errors: {
        file_type_not_allowed: "Only images (PNG, JPEG, GIF, WebP) and PDF files can be sent.",
        file_too_large: "This file is too large.",
        file_empty: "This file is empty.",
        upload_failed: "The file could not be sent.",
        rate_limited: "You are sending messages too quickly. Wait a moment, then retry.",
        message_too_long: "This message is too long. Please shorten it.",
        empty_message: "The message is empty.",
        unavailable: "The server could not take your message yet; retrying.",
        frame_too_large: "This message is too long. Please shorten it.",
        email_required: "Please enter your email address so we can reply.",
        bad_frame: "Please check the form: something in it was not accepted.",
        unknown_message: "This answer can no longer be rated.",
        nothing_to_rate: "This conversation can no longer be rated.",
      },
    },
    zh: {
      open: "打开在线客服",
      close: "关闭对话窗口",
      unread: (n) => `${n} 条未读消息`,
      log: "对话记录",
      message: "消息",
      placeholder: "请输入您的问题…",
      send: "发送",
      status: {
        bot: "智能客服",
        waiting: "正在为您转接人工客服…",
        agent: "人工客服为您服务中",
        closed: "对话已结束",
      },
      connecting: "正在连接…",
      offline: "连接中断，正在重连…",
      author: { visitor: "我", bot: "智能客服", agent: "客服", system: "提示" },
      typing: "正在输入",
      sending: "发送中…",
      yesterday: "昨天",
      failed: "未发送：",
      retry: "重试",
      sources: "参考来源",
      source: "来源",
      interrupted: "这条回答未能完成。",
      unavailable: "此页面无法使用在线客服。",
      placeholderClosed: "发送消息开始新的对话…",
      newConversation: "新的对话",
      human: "转人工",
      over: (n) => `，超出 ${n} 字`,
      dismiss: "关闭",
      leave: "给我们留言",
      leaveHint: "我们会在这里并通过邮件回复您。",
      back: (when) => `人工客服将于 ${when} 上线。`,
      name: "称呼（选填）",
      email: "邮箱",
      text: "留言内容",
      sendLeave: "提交留言",
      emailInvalid: "请填写有效的邮箱地址，例如 name@example.com。",
      nameInvalid: "请填写姓名，最多 200 个字符，不含特殊字符。",
      textRequired: "请填写留言内容。",
      prechat: "开始咨询前",
      prechatHint: "留下邮箱，客服也可以通过邮件回复您。",
      emailOptional: "邮箱（选填）",
      start: "开始咨询",
      skip: "跳过",
      rate: "这条回答有帮助吗？",
      up: "有帮助",
      down: "没有帮助",
      why: "哪里不满意？（选填）",
      thanks: "感谢您的反馈。",
      csat: "您对本次服务满意吗？",
      stars: ["非常不满意", "不满意", "一般", "满意", "非常满意"],
      comment: "补充说明（选填）",
      pick: "请选择 1 到 5 分。",
      rateSend: "提交评价",
      submit: "提交",
      csatThanks: "感谢您的评价！",
      attach: "添加附件",
      errors: {
        file_type_not_allowed: "只能发送图片（PNG、JPEG、GIF、WebP）和 PDF 文件。",
        file_too_large: "文件太大，无法发送。",
        file_empty: "文件是空的。",
        upload_failed: "文件发送失败。",
        rate_limited: "发送太频繁了，请稍等片刻再重试。",
        message_too_long: "消息太长，请缩短后再发送。",
        empty_message: "消息不能为空。",
        unavailable: "服务器暂时无法接收消息，正在重试。",
        frame_too_large: "消息太长，请缩短后再发送。",
        email_required: "请填写邮箱，方便我们回复您。",
        bad_frame: "请检查表单：有内容未被接受。",
        unknown_message: "这条回答已无法评价。",
        nothing_to_rate: "本次对话已无法评价。",
      },
    },
  };

  // --- small helpers ------------------------------------------------------------------------

  const storage = (area) => {
    try {
      return window[area];
    } catch {
      return null; // storage blocked (sandboxed iframe, privacy settings)
    }
  };
  const load = (area, name) => {
    try {
      return JSON.parse(storage(area).getItem(KEY + name));
    } catch {
      return null;
    }
  };
  const save = (area, name, value) => {
    try {
      if (value == null) storage(area).removeItem(KEY + name);
      else storage(area).setItem(KEY + name, JSON.stringify(value));
    } catch {
      // Private mode: the widget still works, it just forgets across reloads.
    }
  };

  /** Build an element; children are nodes or strings (strings become text nodes, never HTML). */
  const h = (tag, attrs, ...children) => {
    const el = document.createElement(tag);
    for (const name in attrs || {}) {
      if (attrs[name] != null && attrs[name] !== false) el.setAttribute(name, attrs[name]);
    }
    el.append(...children.filter((c) => c != null && c !== false));
    return el;
  };

  const codePoints = (s) => Array.from(s).length;

  const clientId = () => {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    return "c-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  };

  /** Return an http(s) URL as the parser understood it, or null for anything else.
   *  `base` resolves relative ones: citations of csbot's own /kb/ pages. */
  const safeUrl = (raw, base) => {
    try {
      const url = new URL(raw, base);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  };

  // --- markdown: a small safe subset, built as DOM nodes -----------------------------------
  // Paragraphs, line breaks, **bold**, *italic*, `code`, ``` blocks, - and 1. lists, #
  // headings (as bold lines), [text](http…) links, bare http(s) URLs and [n] citations.

  const INLINE = new RegExp(
    [
      /(`+)([^`][\s\S]*?)\1(?!`)/.source, // 1,2 code span
      /\*\*(?=\S)([\s\S]*?\S)\*\*/.source, // 3 bold
      /\*(?=[^\s*])([\s\S]*?[^\s*])\*/.source, // 4 italic
      /\[([^\]]+)\]\(\s*((?:[^\s()]|\([^\s()]*\))+)\s*\)/.source, // 5,6 link
      /\[(\d{1,3})\]/.source, // 7 citation
      // A bare URL: balanced (…) belong to it (…/Lamp_(furniture)), as in GitHub's autolinks;
      // an unbalanced ")" and the punctuation ending a sentence do not.
      /https?:\/\/(?:U|\(U*\))*(?:[\w\-~/#@$&*+=%]|\(U*\))/.source // U: a URL's character
        .replace(/U/g, /[\w\-.~:/?#@!$&*+,;=%]/.source),
    ].join("|"),
    "g",
  );
  const LIST_ITEM = /^\s{0,6}(?:([-*+])|(\d{1,9})[.)])\s+(.*)$/;
  const FENCE = /^\s{0,3}```/;
  const HEADING = /^\s{0,3}#{1,6}\s+(.*)$/;

  const link = (href, label) =>
    h("a", { href, target: "_blank", rel: "noopener noreferrer" }, ...label);

  const inline = (text, ctx) => {
    const out = [];
    const re = new RegExp(INLINE.source, "g");
    let last = 0;
    let m;
    while ((m = re.exec(text))) {
      if (m.index > last) out.push(text.slice(last, m.index));
      last = re.lastIndex;
      if (m[1]) out.push(h("code", null, m[2]));
      else if (m[3] != null) out.push(h("strong", null, ...inline(m[3], ctx)));
      else if (m[4] != null) out.push(h("em", null, ...inline(m[4], ctx)));
      else if (m[5] != null) {
        const href = safeUrl(m[6]);
        out.push(href ? link(href, inline(m[5], ctx)) : m[5]);
      } else if (m[7] != null) out.push(citeRef(Number(m[7]), ctx) || m[0]);
      else {
        const href = safeUrl(m[0]);
        out.push(href ? link(href, [m[0]]) : m[0]);
      }
    }
    out.push(text.slice(last));
    return out;
  };

  const citeRef = (n, ctx) => {
    const cite = ctx.cites.get(n);
    if (!cite) return null;
    // The console has no Sources list to jump to: it links "[n]" to the source itself.
    if (ctx.cite) return ctx.cite(cite);
    return h(
      "a",
      {
        class: "cite",
        href: `#${ctx.prefix}${n}`,
        "data-n": n,
        "aria-label": `${ctx.t.source} ${n}: ${cite.title || cite.url || ""}`,
      },
      `[${n}]`,
    );
  };

  const withBreaks = (lines, ctx) => {
    const out = [];
    lines.forEach((line, i) => {
      if (i) out.push(h("br"));
      out.push(...inline(line.trim(), ctx));
    });
    return out;
  };

  /** Render untrusted markdown-ish text as a fragment of safe nodes. */
  const markdown = (text, ctx) => {
    const lines = text.replace(/\r\n?/g, "\n").split("\n");
    const frag = document.createDocumentFragment();
    let i = 0;
    const isBlockStart = (line) => LIST_ITEM.test(line) || FENCE.test(line) || HEADING.test(line);
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if (!line.trim()) {
        i++;
      } else if (FENCE.test(line)) {
        const body = [];
        for (i++; i < lines.length && !FENCE.test(lines[i]); i++) body.push(lines[i]);
        i++;
        frag.append(h("pre", null, h("code", null, body.join("\n"))));
      } else if ((m = HEADING.exec(line))) {
        frag.append(h("p", null, h("strong", null, ...inline(m[1], ctx))));
        i++;
      } else if ((m = LIST_ITEM.exec(line))) {
        const ordered = !m[1];
        const list = h(ordered ? "ol" : "ul", ordered && m[2] !== "1" ? { start: m[2] } : null);
        while (i < lines.length && (m = LIST_ITEM.exec(lines[i])) && !m[1] === ordered) {
          const item = [m[3]];
          // Indented lines that are not items themselves continue the item.
          for (i++; i < lines.length && /^\s+\S/.test(lines[i]) && !isBlockStart(lines[i]); i++) {
            item.push(lines[i]);
          }
          list.append(h("li", null, ...withBreaks(item, ctx)));
        }
        frag.append(list);
      } else {
        const para = [];
        for (; i < lines.length && lines[i].trim() && (!para.length || !isBlockStart(lines[i])); i++) {
          para.push(lines[i]);
        }
        frag.append(h("p", null, ...withBreaks(para, ctx)));
      }
    }
    return frag;
  };

  // The agent console loads this file with `data-render-only` to show bot and agent messages
  // through this very renderer, as the visitor sees them (docs/widget.md): it gets `markdown`
  // and nothing else runs (no socket, no element, no window.csbot).
  if (script.hasAttribute("data-render-only")) {
    window.csbotRender = { markdown };
    return;
  }

  // --- styles and skeleton (constant markup, no data interpolated) -------------------------

  const CSS = `
:host{all:initial!important;display:block!important;position:fixed!important;right:0!important;bottom:0!important;width:0!important;height:0!important;z-index:2147483000!important;direction:ltr!important}
.root{--accent:#2563eb;--ink:#fff;--link:#2563eb;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif;color:#1f2937;color-scheme:light;text-align:left;-webkit-font-smoothing:antialiased}
*,*::before,*::after{box-sizing:border-box}
[hidden]{display:none!important}
button{font:inherit;color:inherit;background:none;border:0;margin:0;padding:0;cursor:pointer}
svg{display:block;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}
:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
.launcher{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;background:var(--accent);color:var(--ink);box-shadow:0 6px 18px rgba(15,23,42,.24),0 1px 3px rgba(15,23,42,.16);display:flex;align-items:center;justify-content:center;transition:transform .15s ease}
.launcher:hover{transform:scale(1.05)}
.launcher svg{width:26px;height:26px}
.badge{position:absolute;top:-3px;right:-3px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;border:2px solid #fff;background:#dc2626;color:#fff;font-size:12px;font-weight:600;line-height:18px;text-align:center}
.panel{position:fixed;right:20px;bottom:88px;width:380px;height:min(640px,calc(100vh - 108px));display:flex;flex-direction:column;background:#fff;border-radius:16px;overflow:hidden;box-shadow:0 16px 48px rgba(15,23,42,.2),0 2px 8px rgba(15,23,42,.1);animation:rise .18s ease-out}
@keyframes rise{from{opacity:0;transform:translateY(12px)}}
.head{display:flex;align-items:center;gap:10px;padding:14px 10px 14px 16px;background:var(--accent);color:var(--ink)}
.who{flex:1;min-width:0}
.title{margin:0;font-size:16px;font-weight:600;line-height:1.3;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.sub{display:flex;align-items:center;gap:8px;margin-top:2px}
.status{flex:1;min-width:0;margin:0;font-size:13px;line-height:1.3;display:flex;align-items:center;gap:6px}
.state{opacity:.92;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.dot{flex:none;width:8px;height:8px;border-radius:50%;background:#4ade80;box-shadow:0 0 0 2px rgba(255,255,255,.35)}
.down .dot,[data-status=closed] .dot{background:#cbd5e1}
[data-status=waiting] .dot{background:#fbbf24}
.actions{display:flex;gap:4px}
.human{flex:none;display:flex;align-items:center;gap:5px;height:26px;padding:0 10px 0 8px;border-radius:13px;background:rgba(127,127,127,.22);font-size:12px;font-weight:600;white-space:nowrap}
.human:hover{background:rgba(127,127,127,.34)}
.human[aria-disabled=true]{opacity:.55;cursor:default}
.human svg{width:14px;height:14px}
.close{flex:none;width:36px;height:36px;border-radius:8px;display:flex;align-items:center;justify-content:center}
.close:hover{background:rgba(127,127,127,.22)}
.close svg{width:20px;height:20px}
.head :focus-visible{outline-color:var(--ink)}
.log{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:16px 14px;background:#f8fafc}
.list,.log,.earlier{display:flex;flex-direction:column;gap:12px}
.earlier:empty{display:none}
.divider{display:flex;align-items:center;gap:10px;font-size:12px;color:#64748b}
.divider::before,.divider::after{content:"";flex:1;border-top:1px solid #e2e8f0}
.log:focus-visible{outline-offset:-2px}
.msg{display:flex;flex-direction:column;align-items:flex-start;max-width:86%}
.msg.visitor{align-self:flex-end;align-items:flex-end}
.msg.system{align-self:center;align-items:center;max-width:92%}
.name{margin:0 0 3px 4px;font-size:12px;color:#64748b}
.bubble{padding:9px 13px;border-radius:16px;border-bottom-left-radius:5px;background:#fff;border:1px solid #e2e8f0;overflow-wrap:anywhere;box-shadow:0 1px 2px rgba(15,23,42,.04)}
.visitor .bubble{background:var(--accent);color:var(--ink);border-color:transparent;border-radius:16px;border-bottom-right-radius:5px;white-space:pre-wrap}
.system .bubble{background:none;border:0;box-shadow:none;padding:2px 8px;color:#64748b;font-size:13px;text-align:center}
.pending .bubble{opacity:.65}
.failed .bubble{opacity:.65;border:1px dashed #dc2626}
.bubble p{margin:0 0 8px}
.bubble ul,.bubble ol{margin:0 0 8px;padding-left:22px}
.bubble li{margin:2px 0}
.bubble>:last-child{margin-bottom:0}
.bubble a{color:var(--link);text-decoration:underline;text-underline-offset:2px}
.visitor .bubble a{color:inherit}
.bubble code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f1f5f9;border-radius:4px;padding:1px 4px}
.bubble pre{margin:0 0 8px;padding:8px 10px;border-radius:8px;background:#f1f5f9;overflow-x:auto}
.bubble pre code{padding:0;white-space:pre}
.bubble .cite{font-size:11px;font-weight:600;line-height:0;vertical-align:super;text-decoration:none;padding:0 1px}
.sources{margin:6px 4px 0;font-size:12.5px;color:#475569}
.sources ol{margin:2px 0 0;padding-left:20px}
.sources li{margin:1px 0;border-radius:4px}
.sources li:focus{outline:none;background:#fef9c3}
.sources a{color:var(--link)}
.meta,.at{margin:3px 4px 0;font-size:12px;color:#64748b}
.failed .meta{color:#b91c1c}
.meta button{margin-left:6px;font-weight:600;text-decoration:underline}
.rate{display:flex;flex-wrap:wrap;align-items:center;gap:2px;margin:2px 0 0;font-size:12px;color:#64748b}
.thumb,.x{width:30px;height:30px;border-radius:8px;display:flex;align-items:center;justify-content:center;color:#94a3b8}
.thumb:hover,.x:hover{background:#e2e8f0;color:#334155}
.thumb[aria-pressed=true]{background:#e2e8f0;color:var(--link)}
.thumb svg,.x svg{width:16px;height:16px}
.thumb.down svg{transform:rotate(180deg)}
.rate p{margin:0 0 0 4px}
.why{display:flex;gap:6px;width:300px;max-width:100%;margin-top:4px}
.why .in{margin:0;height:38px;resize:none}
.in{display:block;width:100%;margin:4px 0 0;padding:8px 10px;border:1px solid #cbd5e1;border-radius:8px;background:#fff;color:#0f172a;font:inherit;font-size:14px;line-height:20px;outline:none;resize:vertical}
.in:focus{border-color:var(--accent);box-shadow:0 0 0 1px var(--accent)}
.in[aria-invalid=true]{border-color:#dc2626;box-shadow:0 0 0 1px #dc2626}
.row{display:flex;gap:8px}
.row button+button{padding:0 12px;font-size:14px;color:#475569;text-decoration:underline}
.primary{flex:none;height:38px;padding:0 18px;border-radius:19px;background:var(--accent);color:var(--ink);font-size:14px;font-weight:600}
.dots{display:inline-flex;gap:4px;padding:6px 2px}
.dots i{width:7px;height:7px;border-radius:50%;background:#94a3b8;animation:blink 1.2s infinite ease-in-out}
.dots i:nth-child(2){animation-delay:.15s}
.dots i:nth-child(3){animation-delay:.3s}
@keyframes blink{0%,60%,100%{opacity:.35;transform:none}30%{opacity:1;transform:translateY(-3px)}}
.alert{margin:0;padding:8px 14px;background:#fef2f2;color:#991b1b;font-size:13px;border-top:1px solid #fecaca}
.notice{flex:none;max-height:62%;overflow-y:auto;overscroll-behavior:contain;border-top:1px solid #e2e8f0;background:#fff}
.notice:empty{display:none}
.card{position:relative;padding:14px 16px 16px}
.inlog{margin:0 0 12px;padding:10px 12px;border:1px solid #e2e8f0;border-radius:12px;background:#fff}
.inlog:not(:has(:checked))>label,.inlog:not(:has(:checked))>.primary,.inlog .ends{display:none}
.card h3,.card legend{margin:0 30px 2px 0;padding:0;font-size:15px;font-weight:600;line-height:1.35;color:#0f172a}
.hint{margin:0 0 10px;font-size:13px;color:#475569}
.x{position:absolute;top:10px;right:10px}
.card label{display:block;margin:0 0 10px;font-size:13px;font-weight:500;color:#334155}
.err{margin:-4px 0 10px;font-size:12.5px;color:#b91c1c}
.err:empty{display:none}
fieldset{margin:0;padding:0;border:0;min-width:0}
.scale{display:flex;gap:6px;margin:10px 0 4px}
.card .scale label{position:relative;flex:1;margin:0}
.scale span{display:flex;align-items:center;justify-content:center;height:40px;border:1px solid #cbd5e1;border-radius:10px;font-size:15px;font-weight:600;cursor:pointer}
.scale span:hover{border-color:var(--accent)}
.scale input:checked+span{background:var(--accent);border-color:var(--accent);color:var(--ink)}
.scale input:focus-visible+span{outline:2px solid var(--accent);outline-offset:2px}
.ends{display:flex;justify-content:space-between;margin:0 0 12px;font-size:12px;color:#64748b}
.done{margin:0;padding-right:30px;font-size:14px;font-weight:600;color:#166534}
.count{margin:-6px 2px 8px;text-align:right;font-size:12px;color:#64748b}
.composer .count{flex-basis:100%;margin:-4px 0 0;padding:0 4px}
.count.over{color:#b91c1c;font-weight:600}
.composer{display:flex;flex-wrap:wrap;align-items:flex-end;gap:8px;padding:10px 12px 12px;border-top:1px solid #e2e8f0;background:#fff}
.composer textarea{flex:1;min-width:0;height:42px;max-height:128px;margin:0;padding:10px 14px;resize:none;border:1px solid #cbd5e1;border-radius:21px;background:#fff;color:#0f172a;font:inherit;font-size:15px;line-height:20px;outline:none}
.composer textarea::placeholder{color:#94a3b8}
.composer textarea:focus{border-color:var(--accent);box-shadow:0 0 0 1px var(--accent)}
.send{flex:none;width:42px;height:42px;border-radius:50%;background:var(--accent);color:var(--ink);display:flex;align-items:center;justify-content:center}
.send:disabled{opacity:.4;cursor:default}
.clip{flex:none;width:34px;height:42px;color:#64748b;display:flex;align-items:center;justify-content:center}
.clip svg,.send svg{width:20px;height:20px}
.bubble img{display:block;max-width:100%;max-height:220px;width:auto;height:auto;border-radius:8px}
.bubble .file{display:block;color:inherit;font-weight:600}
.file svg{display:inline;width:16px;height:16px;margin-right:4px;vertical-align:-3px}
.bubble .file:not(:last-child){margin-bottom:6px}
.sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
@media (max-width:480px){.panel{top:0;right:0;bottom:0;left:0;width:auto;height:auto;border-radius:0;animation:none}.open .launcher{display:none}.composer textarea,.in{font-size:16px}.human svg{display:none}}
@media (max-width:360px){.head{gap:6px;padding-left:12px}.sub{gap:6px}.state{white-space:normal}}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}
`;

  const ICON_CHAT =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M21 11.5a8.4 8.4 0 0 1-9 8.4 9 9 0 0 1-3.9-.9L3 20.5l1.5-4.4A8 8 0 0 1 3 11.5 8.6 8.6 0 0 1 12 3a8.6 8.6 0 0 1 9 8.5z"/></svg>';
  const ICON_DOWN = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="m6 9 6 6 6-6"/></svg>';
  const ICON_X = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M18 6 6 18M6 6l12 12"/></svg>';
  const ICON_HUMAN =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="8" r="4"/><path d="M4 21a8 8 0 0 1 16 0"/></svg>';
  const ICON_THUMB =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M3 10h4v11H3zM7 10l4-7c1.6 0 2.6 1.2 2.3 2.7L12.6 10h6.2a2 2 0 0 1 2 2.4l-1.4 7A2 2 0 0 1 17.4 21H7"/></svg>';
  const ICON_CLIP =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="m21 11-8.5 8.5a5 5 0 0 1-7-7L14 4a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L15 7"/></svg>';
  const ICON_FILE =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8zm0 0v5h5"/></svg>';
  const SKELETON = `<div class="root">
<div class="panel" role="dialog" id="panel" aria-labelledby="title" hidden>
<div class="head"><div class="who"><h2 class="title" id="title" tabindex="-1"></h2><div class="sub"><p class="status"><span class="dot"></span><span class="state"></span></p><div class="actions"></div></div></div><button type="button" class="close">${ICON_X}</button></div>
<div class="log" tabindex="0"><div class="earlier"></div><div class="list"></div><div class="msg typing" hidden><div class="bubble"><span class="dots"><i></i><i></i><i></i></span></div></div></div>
<p class="alert" role="alert" hidden></p><div class="notice"></div>
<form class="composer"><p class="count" id="count" hidden></p><button type="button" class="clip">${ICON_CLIP}</button><input type="file" hidden accept="image/png,image/jpeg,image/gif,image/webp,application/pdf"><textarea rows="1" dir="auto" enterkeyhint="send" aria-describedby="count"></textarea><button type="submit" class="send" disabled><svg viewBox="0 0 24 24" aria-hidden="true"><path d="M5 12h14M13 6l6 6-6 6"/></svg></button></form>
<div class="sr" aria-live="polite"></div>
</div>
<button type="button" class="launcher" aria-expanded="false" aria-controls="panel">${ICON_CHAT}<span class="badge" aria-hidden="true" hidden></span></button>
</div>`;

  // --- state ---------------------------------------------------------------------------------

  let t = STRINGS.en;
  let session = null; // the /session answer
  let ws = null; // the socket, once open
  let greeted = false; // the server answered hello on this socket
  let live = false; // said hello and resumed: messages may be sent
  let replaying = false; // between `resume` and `resumed`
  let historyLoaded = false; // the first resume finished: later arrivals are news
  let stopped = false; // the server refused this page: no retries
  let attempt = 0;
  let retryTimer = 0;
  let heartbeat = 0;
  let pongTimer = 0;
  let conversationId = null;
  let lastSeq = 0;
  let status = "bot";
  let isOpen = false;
  let unread = 0;
  let typingTimer = 0;
  let typingSentAt = 0;
  let typingIdle = 0;
  let identifyQueue = []; // [{frame, resolve, reject}] not yet answered
  let askedHuman = false; // "talk to a human" was pressed; its answer has not come yet
  let card = null; // what ui.notice shows: {kind: "prechat"|"leave"|"csat", el, ticket}
  let contact = {}; // what the page gave identify() (or the pre-chat form), for the forms
  let heldSend = false; // Send was pressed before the pre-chat form was answered
  let storedContact = {}; // what this visitor typed into their latest left message
  let ui = null;
  const messages = new Map(); // id → message
  const shownMessage = new WeakMap(); // a message's element → the message (set by render)
  const outbox = new Map(); // client_id → visitor message not yet acknowledged
  // The visitor's thumbs, by message id: {v: up|down, c: comment, s: acknowledged}. The server
  // does not replay them (docs/protocol.md §5), so they are kept here, the latest 200.
  const votes = new Map(Object.entries(load("localStorage", "votes") || {}).map(([id, v]) => [Number(id), v]));
  const voteQueue = []; // ids of feedback frames awaiting feedback.ack, in sending order

  const send = (frame) => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  };

  // --- connection ----------------------------------------------------------------------------

  const retry = (fn) => {
    clearTimeout(retryTimer);
    // Exponential backoff with jitter, so a restarted server is not hit by every widget at once.
    const delay = Math.min(30000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt = Math.min(attempt + 1, 10);
    retryTimer = setTimeout(fn, delay);
  };

  const start = async () => {
    if (!SITE) {
      fatal("the script tag has no data-site attribute: copy the embed code from the site's admin page");
      return;
    }
    let res;
    try {
      res = await fetch(`${ORIGIN}/api/widget/${encodeURIComponent(SITE)}/session`, {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: { "Content-Type": "application/json" },
        // The language asked for, so greetings and system lines match the widget's own labels.
        body: JSON.stringify({ token: load("localStorage", "token") || "", language: askedLanguage() }),
      });
    } catch {
      retry(start);
      return;
    }
    if (res.status === 403 || res.status === 404) {
      const refusal = await res.json().then((body) => body.error || {}, () => ({}));
      fatal(
        refusal.code === "unknown_site"
          ? `no site has the key "${SITE}": check the script tag's data-site attribute`
          : `${res.status} from the session endpoint: is this page's origin (${location.origin}) allowed for ${SITE}?`,
      );
      return;
    }
    if (!res.ok) {
      retry(start);
      return;
    }
    try {
      session = await res.json();
    } catch {
      retry(start);
      return;
    }
    save("localStorage", "token", session.token);
    mount();
    connect();
  };

  const connect = () => {
    clearTimeout(retryTimer);
    if (ws) return;
    const sock = new WebSocket(ORIGIN.replace(/^http/, "ws") + session.socket_path);
    ws = sock;
    // The page it is on, for the agents (docs/protocol.md §2): read at each hello, as a
    // single-page shop changes it without reloading.
    sock.onopen = () =>
      send({ type: "hello", v: 1, token: session.token, page: { url: location.href, title: document.title } });
    sock.onmessage = (event) => {
      if (ws !== sock) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      const handler = on[frame.type];
      if (handler) handler(frame);
    };
    sock.onclose = (event) => {
      if (ws === sock) dropped(event.code);
    };
  };

  const dropped = (code) => {
    ws = null;
    greeted = false;
    live = false;
    replaying = false;
    clearInterval(heartbeat);
    clearTimeout(pongTimer);
    askedHuman = false; // its answer is lost with the socket
    showTyping(false);
    renderStatus();
    if (code === 4403 || code === 4404) {
      fatal(`the server closed the chat with ${code}`);
    } else if (code === 4401) {
      forgetVisitor();
      retry(start);
    } else {
      retry(connect);
    }
  };

  /** The token names nobody now (expired, or the visitor was erased): start afresh as a new
   *  visitor, with a thread blank but for the greeting and what still waits to be sent. */
  const forgetVisitor = () => {
    save("localStorage", "token", null);
    session = null;
    votes.clear();
    saveVotes();
    const old = leaveConversation();
    if (ui) ui.earlier.replaceChildren();
    for (const el of old) if (el.dataset.seq !== "0") el.remove(); // the greeting stays
    conversationId = null;
  };

  /** Forget the shown conversation's messages; return their elements, not the outbox's:
   * messages still waiting to be sent belong to the next conversation. */
  const leaveConversation = () => {
    const waiting = new Set(Array.from(outbox.values(), (m) => m.el));
    messages.clear();
    lastSeq = 0; // seq starts at 1 in every conversation
    countUnread();
    return ui ? Array.from(ui.list.children).filter((el) => !waiting.has(el)) : [];
  };

  /** Close a socket that stopped answering pings (a silently dead mobile connection). */
  const abandon = () => {
    const sock = ws;
    if (!sock) return;
    sock.onclose = null;
    sock.close();
    dropped(1006);
  };

  const reconnectNow = () => {
    if (ws || !ui || stopped) return;
    attempt = 0;
    if (session) connect();
    else start();
  };

  const fatal = (why) => {
    stopped = true;
    clearTimeout(retryTimer);
    console.warn(`csbot: ${why}`);
    if (ui) showAlert(t.unavailable, true);
  };

  // --- frames from the server: one small handler each (docs/protocol.md §2) -----------------
  // The handoff flow adds its behaviour here (status changes, forms), not in the transport.

  const on = {
    ready(frame) {
      attempt = 0;
      greeted = true;
      storedContact = frame.contact || {}; // a server from before contact was sent: none
      const conversation = frame.conversation;
      if (conversationId !== conversation.id) switchConversation(conversation.id);
      replaying = true;
      send({ type: "resume", last_seq: resumeFrom() });
      setStatus(conversation.status);
      for (const item of identifyQueue) send(item.frame);
    },

    resumed(frame) {
      replaying = false;
      historyLoaded = true;
      live = true;
      setStatus(frame.status);
      // Still waiting after a reload or a reconnect: ask again, so a visitor whose agents all
      // went offline meanwhile is offered the form (handoff.ack "unchanged" if one is there).
      if (frame.status === "waiting") send({ type: "handoff.request" });
      if (isOpen) markSeen();
      for (const pending of outbox.values()) {
        if (!pending.failed && !pending.file) send(outFrame(pending));
      }
      for (const [id, vote] of votes) if (!vote.s) sendVote(id);
      clearInterval(heartbeat);
      heartbeat = setInterval(ping, 25000);
    },

    "message.ack"(frame) {
      if (acknowledge(frame) && !frame.duplicate && status === "bot") showTyping(true, 30000);
    },

    "leave_message.ack"(frame) {
      acknowledge(frame); // the thank-you is a system message
    },

    "message.new"(frame) {
      upsert(frame.message);
    },

    "message.delta"(frame) {
      const message = messages.get(frame.id);
      if (!message || message.state !== "streaming") return;
      // A gap means this client missed deltas: wait for message.done, which has the whole text.
      if (message.stale || frame.offset !== message.length) {
        message.stale = true;
        return;
      }
      message.text += frame.text;
      message.length += codePoints(frame.text);
      updateKeepingScroll(() => render(message));
    },

    "message.reset"(frame) {
      const message = messages.get(frame.id);
      if (!message) return;
      Object.assign(message, { text: "", length: 0, stale: false });
      render(message);
    },

    "message.done"(frame) {
      upsert(frame.message);
    },

    typing(frame) {
      showTyping(frame.active, 10000);
    },

    "conversation.status"(frame) {
      setStatus(frame.status);
    },

    // The last conversation was closed; this one starts with the message being sent (§4).
    "conversation.new"(frame) {
      switchConversation(frame.conversation.id);
      setStatus(frame.conversation.status);
    },

    "handoff.ack"(frame) {
      // Nobody there: handoff.unavailable follows and opens the form for the visitor who asked
      // (with the focus; not for the widget's own request on resuming a waiting conversation).
      askedHuman = askedHuman && frame.state === "unavailable";
      // conversation.status follows this ack on the same socket: hide the button already.
      if (frame.state === "waiting") setStatus("waiting");
      else if (frame.state === "assigned") setStatus("agent");
      else renderHuman();
    },

    "handoff.unavailable"(frame) {
      openLeave({ reason: frame.reason, opens_at: frame.opens_at || null }, { focus: askedHuman });
      askedHuman = false;
      renderHuman();
    },

    "feedback.ack"(frame) {
      const id = frame.message_id;
      const queued = voteQueue.indexOf(id);
      if (queued >= 0) voteQueue.splice(queued, 1);
      const vote = votes.get(id);
      if (vote && vote.v === frame.value) {
        vote.s = 1;
        saveVotes();
        paintVote(barOf(id), vote);
      }
    },

    "csat.request"(frame) {
      const ticket = frame.ticket_id;
      if ((card && card.ticket === ticket) || load("sessionStorage", "csat") === ticket) return;
      openCsat(ticket);
    },

    "csat.ack"() {
      if (card && card.kind === "csat") cardDone(t.csatThanks);
    },

    identified() {
      const item = identifyQueue.shift();
      if (item) item.resolve();
    },

    error(frame) {
      // The 4401 close that follows starts afresh with a new token: nothing to tell the visitor.
      if (frame.code === "unauthorized") return;
      const pending = frame.client_id && outbox.get(frame.client_id);
      if (pending) {
        if (frame.code === "unavailable") {
          // Nothing was stored: the same client_id is sent again shortly.
          setTimeout(() => live && outbox.has(pending.client_id) && resend(pending), 2000);
          showAlert(t.errors.unavailable);
        } else refuse(pending, frame);
        // The site came to require an email after this page asked (or another client skipped
        // the form): the failed message waits, with its Retry, while the form asks for it.
        if (frame.code === "email_required" && !pending.leave) {
          session.prechat = "require";
          openPrechat(true);
        }
        return;
      }
      if (frame.code === "frame_too_large" && outbox.size) {
        // Too large to parse, so the server could not name the message: it is the latest one.
        refuse(Array.from(outbox.values()).pop(), frame);
        return;
      }
      if (frame.code === "bad_frame" && identifyQueue.length) {
        identifyQueue.shift().reject(Object.assign(new Error(frame.message), { field: frame.field }));
        return;
      }
      if (frame.code === "unknown_message" && voteQueue.length) {
        const id = voteQueue.shift();
        votes.delete(id);
        saveVotes();
        paintVote(barOf(id), {});
      }
      if (frame.code === "nothing_to_rate" && card && card.kind === "csat") {
        cardDone(t.errors.nothing_to_rate, true);
        return;
      }
      if (askedHuman) {
        askedHuman = false; // the request was refused (rate_limited)
        renderHuman();
      }
      showAlert(t.errors[frame.code] || frame.message);
    },

    pong() {
      clearTimeout(pongTimer);
    },
  };

  /** Show another conversation (the last one was closed): the old one stays above a divider. */
  const switchConversation = (id) => {
    if (conversationId !== null) {
      const old = leaveConversation();
      if (old.length) ui.earlier.append(...old, h("p", { class: "divider" }, t.newConversation));
    }
    conversationId = id;
  };

  /** The server stored a visitor message (message.ack or leave_message.ack); return it, or null
   * when it is not one of the shown conversation's. */
  const acknowledge = (frame) => {
    const pending = outbox.get(frame.client_id);
    if (!pending) return null;
    outbox.delete(frame.client_id);
    saveOutbox();
    if (frame.earlier) {
      // Stored in a conversation closed since; it is not part of the one shown.
      unplace(pending.el);
      return null;
    }
    // The ack carries no time: stored just now, by this clock (a replay brings the server's).
    const created_at = new Date().toISOString();
    Object.assign(pending, { id: frame.id, seq: frame.seq, pending: false, failed: null, created_at });
    messages.set(frame.id, pending);
    lastSeq = Math.max(lastSeq, frame.seq);
    render(pending);
    place(pending);
    return pending;
  };

  /** The server refused a visitor message: mark it failed, or give a left one back to its form. */
  const refuse = (pending, frame) => {
    if (!pending.leave) {
      pending.failed = frame;
      render(pending);
      return;
    }
    outbox.delete(pending.client_id);
    saveOutbox();
    unplace(pending.el);
    const values = { ...pending.leave, text: pending.text, id: pending.client_id };
    openLeave(pending.leave.info || {}, { values, error: frame });
  };

  const ping = () => {
    send({ type: "ping" });
    clearTimeout(pongTimer);
    pongTimer = setTimeout(abandon, 10000);
  };

  /** The seq to resume after: below any answer still streaming, so its final text is replayed. */
  const resumeFrom = () => {
    let from = lastSeq;
    for (const message of messages.values()) {
      if (message.state === "streaming") from = Math.min(from, message.seq - 1);
    }
    return Math.max(0, from);
  };

  const upsert = (payload) => {
    let message = messages.get(payload.id);
    const pending = payload.client_id && outbox.get(payload.client_id);
    if (!message && pending) {
      // Stored before the socket dropped, its ack lost: the replay confirms it. A file's
      // chat.message often comes before its upload's HTTP answer (published on commit).
      outbox.delete(payload.client_id);
      saveOutbox();
      if (pending.file) URL.revokeObjectURL(pending.attachment.url);
      delete pending.file;
      message = pending;
    }
    const fresh = !message;
    message = Object.assign(message || {}, payload, {
      length: codePoints(payload.text),
      stale: false,
      pending: false,
      failed: null,
    });
    messages.set(payload.id, message);
    lastSeq = Math.max(lastSeq, payload.seq);
    updateKeepingScroll(() => {
      render(message);
      place(message);
    });
    if (message.author === "visitor") return;
    if (fresh) showTyping(false);
    if (isOpen) markSeen();
    else countUnread();
    if ((historyLoaded || !replaying) && message.state !== "streaming") announce(message);
  };

  // Unread: replies after the last seq the visitor saw with the panel open, kept across pages.
  const markSeen = () => {
    if (conversationId !== null) save("localStorage", "seen", { conversation: conversationId, seq: lastSeq });
    setUnread(0);
    reportRead();
  };

  // The server learns what was on screen: replies to a left message the visitor read here are
  // not emailed to them too. A panel open in a background tab has shown nothing.
  let readReported = { conversation: null, seq: 0 };
  const reportRead = () => {
    if (!live || document.visibilityState !== "visible" || conversationId === null || lastSeq < 1) return;
    if (readReported.conversation === conversationId && readReported.seq >= lastSeq) return;
    readReported = { conversation: conversationId, seq: lastSeq };
    send({ type: "read", seq: lastSeq });
  };

  const countUnread = () => {
    const seen = load("localStorage", "seen") || {};
    const after = seen.conversation === conversationId ? seen.seq : 0;
    let n = 0;
    for (const message of messages.values()) {
      if (message.author !== "visitor" && message.seq > after) n++;
    }
    setUnread(n);
  };

  const resend = (pending) => {
    pending.failed = null;
    render(pending);
    send(outFrame(pending));
  };

  /** The frame that stores a visitor message: a chat message, or one left for the team. */
  const outFrame = ({ client_id, text, leave }) =>
    leave
      ? { type: "leave_message", client_id, name: leave.name, email: leave.email, text }
      : { type: "message.send", client_id, text };

  /** Whether the server takes this frame: the text's length, and the frame's bytes. */
  const fits = (frame) =>
    codePoints(frame.text) <= MAX_CHARS && new TextEncoder().encode(JSON.stringify(frame)).length <= MAX_FRAME_BYTES;

  const saveOutbox = () => {
    const items = [];
    for (const { client_id, text, leave, file } of outbox.values()) if (!file) items.push({ client_id, text, leave });
    save("sessionStorage", "outbox", items.length ? items : null);
  };

  // --- the visitor's actions -----------------------------------------------------------------

  const submit = () => {
    const text = ui.input.value.trim();
    if (!text) return;
    if (prechatDue()) {
      heldSend = true; // the question stays in the composer and goes once the form is answered
      openPrechat(true);
      return;
    }
    const id = clientId();
    if (!fits({ type: "message.send", client_id: id, text })) {
      showAlert(t.errors.message_too_long);
      return;
    }
    ui.input.value = "";
    autosize();
    stopTyping();
    queueMessage(id, text);
  };

  /** Show a visitor message as sending and keep it until acknowledged; `leave`: {name, email, info}. */
  const queueMessage = (id, text, leave) => {
    const message = { client_id: id, text, leave, author: "visitor", state: "complete", citations: [], pending: true };
    outbox.set(id, message);
    saveOutbox();
    render(message);
    place(message);
    scrollToEnd();
    if (live) send(outFrame(message));
  };

  /** Send a file (with what the message box holds as its caption) over HTTP, not the socket. */
  const attach = (file) => {
    if (!session) return;
    if (prechatDue()) return openPrechat(true);
    const text = ui.input.value.trim();
    if (codePoints(text) > MAX_CHARS) return showAlert(t.errors.message_too_long);
    ui.input.value = "";
    autosize();
    const url = URL.createObjectURL(file);
    const message = {
      client_id: clientId(),
      text,
      author: "visitor",
      state: "complete",
      citations: [],
      file,
      attachment: { name: file.name, size: file.size, content_type: file.type, url },
    };
    outbox.set(message.client_id, message);
    render(message);
    place(message);
    scrollToEnd();
    // Too large is said at once, not after sending it all (a proxy may refuse it unreadably).
    if (file.size > session.attachment_max_bytes) failUpload(message, { code: "file_too_large" });
    else upload(message);
  };

  const upload = (message) => {
    const form = new FormData();
    const fields = { token: session.token, client_id: message.client_id, caption: message.text, name: message.file.name };
    for (const name in fields) form.append(name, fields[name]);
    form.append("file", message.file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${ORIGIN}/api/widget/${encodeURIComponent(SITE)}/attachments`);
    const progress = (percent) => {
      Object.assign(message, { pending: true, failed: null, progress: percent });
      render(message);
    };
    xhr.upload.onprogress = (event) => event.lengthComputable && progress(Math.round((100 * event.loaded) / event.total));
    xhr.onload = () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {}
      if (xhr.status < 300 && body.message) {
        upsert(body.message); // the stored message takes the pending one's place
        if (!body.duplicate && status === "bot") showTyping(true, 30000);
      } else failUpload(message, body.error);
    };
    xhr.onerror = () => failUpload(message);
    progress(0);
    xhr.send(form);
  };

  const failUpload = (message, error) => {
    // Already confirmed by the socket: a lost answer (a proxy's 502) did not lose the file.
    if (!outbox.has(message.client_id)) return;
    // "unavailable" promises a retry the socket makes; here the visitor's Retry does.
    message.failed = error && error.code !== "unavailable" && t.errors[error.code] ? error : { code: "upload_failed" };
    render(message);
  };

  const askHuman = () => {
    if (!live || askedHuman) return;
    askedHuman = true;
    send({ type: "handoff.request" });
    renderHuman();
  };

  // --- ratings: thumbs on answers (feedback), 1–5 after an agent (csat) ----------------------

  const saveVotes = () => {
    const kept = Array.from(votes).slice(-200).map(([id, { v, c, s }]) => [id, { v, c, s }]);
    save("localStorage", "votes", Object.fromEntries(kept));
  };

  const sendVote = (id) => {
    const vote = votes.get(id);
    vote.s = 0;
    saveVotes();
    if (!live) return; // sent after the next resume
    voteQueue.push(id);
    send({ type: "feedback", message_id: id, value: vote.v, comment: vote.c });
  };

  const castVote = (id, value) => {
    const old = votes.get(id);
    if (old && old.v === value) return; // one vote per answer; the other thumb changes it
    votes.delete(id); // re-inserted last, so the latest 200 are kept
    votes.set(id, { v: value, c: "", ask: value === "down" });
    sendVote(id);
    const why = paintVote(barOf(id), votes.get(id));
    if (why) why.querySelector("input").focus();
  };

  const barOf = (id) => ui.log.querySelector(`.msg[data-id="${id}"] .rate`);

  /** Thumbs under a finished answer of the bot; null for anything else. */
  const rateBar = (message) => {
    if (message.author !== "bot" || typeof message.id !== "number" || message.state !== "complete") return null;
    const thumb = (value, label) =>
      h("button", { type: "button", class: `thumb ${value}`, "data-vote": value, "aria-label": label }, ...iconNodes(ICON_THUMB));
    const bar = h("div", { class: "rate", role: "group", "aria-label": t.rate }, thumb("up", t.up), thumb("down", t.down));
    bar.append(h("p", { role: "status" }));
    paintVote(bar, votes.get(message.id));
    return bar;
  };

  /** Show a vote on its bar (pressed thumb, thanks, the comment box); return the comment form. */
  const paintVote = (bar, vote = {}) => {
    if (!bar) return null;
    for (const thumb of bar.querySelectorAll(".thumb")) thumb.setAttribute("aria-pressed", thumb.dataset.vote === vote.v);
    bar.querySelector("p").textContent = vote.s ? t.thanks : "";
    let why = bar.querySelector(".why");
    if (vote.ask && !why) {
      const input = h("input", { class: "in", dir: "auto", maxlength: MAX_COMMENT, "aria-label": t.why, placeholder: t.why });
      bar.append((why = h("form", { class: "why" }, input, h("button", { type: "submit", class: "primary" }, t.submit))));
    } else if (!vote.ask && why) {
      if (why.contains(ui.shadow.activeElement)) bar.querySelector(".down").focus();
      why.remove();
      why = null;
    }
    return why;
  };

  const onWhy = (event) => {
    event.preventDefault();
    const row = event.target.closest(".msg"); // not the rating entry's own form
    const id = row && Number(row.dataset.id);
    const vote = votes.get(id);
    if (!vote) return;
    vote.c = event.target.querySelector("input").value.trim();
    vote.ask = false;
    sendVote(id);
    paintVote(barOf(id), vote);
  };

  // --- cards above the composer: leave a message, rate the help ----------------------------

  const showCard = (next, focus) => {
    if (card) card.el.remove(); // one card at a time, above the composer or in the log
    card = next;
    // The card takes its height from the log: a visitor at the end stays there, so the last
    // messages (an agent's reply before the rating) are not pushed out of view.
    updateKeepingScroll(() => (next.inLog ? ui.list.append(next.el) : ui.notice.replaceChildren(next.el)));
    if (focus) next.el.querySelector("input").focus();
    else if (isOpen) ui.announcer.textContent = next.el.querySelector("h3,legend").textContent;
  };

  /** Remove the card; `dismissed`: the visitor closed it (do not offer it again this visit). */
  const closeCard = (dismissed) => {
    if (!card) return;
    if (card.kind === "leave") save("sessionStorage", "leave", null);
    else if (dismissed) save("sessionStorage", "csat", card.ticket);
    const hadFocus = card.el.contains(ui.shadow.activeElement);
    card.el.remove();
    card = null;
    if (hadFocus) ui.input.focus();
  };

  /** Replace the card's content with a last word, then let it go. */
  const cardDone = (text, failed) => {
    const done = card;
    const hadFocus = done.el.contains(ui.shadow.activeElement);
    done.el.replaceChildren(h("p", { class: failed ? "err" : "done", role: "status" }, text), dismissButton());
    if (hadFocus) done.el.querySelector(".x").focus();
    setTimeout(() => card === done && closeCard(), 6000);
  };

  const dismissButton = () => h("button", { type: "button", class: "x", "aria-label": t.dismiss }, ...iconNodes(ICON_X));

  /** A moment in the visitor's own time zone (the browser's), in the widget's language. */
  const formatWhen = (iso, parts = { weekday: "short", month: "short", day: "numeric", ...CLOCK }) => {
    const date = new Date(iso);
    return isNaN(date) ? "" : new Intl.DateTimeFormat(ui.root.lang, parts).format(date);
  };

  const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/; // what the server accepts (apps/chat/protocol.py)

  /** The leave-a-message form (§4): nobody can chat now; `values` and `error` after a refusal. */
  const openLeave = (info, { focus, values = {}, error } = {}) => {
    save("sessionStorage", "leave", info);
    const input = (name, attrs) =>
      h("input", { class: "in", name, autocomplete: name, value: values[name] ?? (contact[name] || storedContact[name]), ...attrs });
    const name = input("name", { maxlength: 200 });
    const email = input("email", { type: "email", maxlength: 254, "aria-required": "true" });
    const text = h("textarea", { class: "in", name: "text", dir: "auto", rows: 3, "aria-required": "true", "aria-describedby": "lf-count" });
    text.value = values.text || "";
    const count = h("p", { class: "count", id: "lf-count", hidden: "" });
    const problem = h("p", { class: "err", id: "lf-err", role: "alert" });
    const when = info.opens_at && formatWhen(info.opens_at);
    const form = h(
      "form",
      { class: "card", novalidate: "", "aria-labelledby": "lf-title" },
      h("h3", { id: "lf-title" }, t.leave),
      h("p", { class: "hint" }, when ? `${t.back(when)} ${t.leaveHint}` : t.leaveHint),
      h("label", null, t.name, name),
      h("label", null, t.email, email),
      h("label", null, t.text, text),
      count,
      problem,
      h("button", { type: "submit", class: "primary" }, t.sendLeave),
      dismissButton(),
    );
    /** Say what is wrong next to `field` (or above the button), and take the visitor there. */
    const flag = (field, why) => {
      for (const control of [email, text]) control.setAttribute("aria-invalid", control === field);
      text.setAttribute("aria-describedby", field === text ? "lf-count lf-err" : "lf-count");
      if (field === email) email.setAttribute("aria-describedby", "lf-err");
      else email.removeAttribute("aria-describedby");
      problem.textContent = why;
      (field ? field.parentNode : count).after(problem);
      (field || form.querySelector(".primary")).focus();
    };
    text.addEventListener("input", () => countInto(count, text.value));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const leave = { name: name.value.trim(), email: email.value.trim() };
      const body = text.value.trim();
      const id = values.id || clientId();
      if (!leave.email) return flag(email, t.errors.email_required);
      if (!EMAIL.test(leave.email)) return flag(email, t.emailInvalid);
      if (!body) return flag(text, t.textRequired);
      if (!fits(outFrame({ client_id: id, text: body, leave }))) return flag(text, t.errors.message_too_long);
      closeCard();
      queueMessage(id, body, { ...leave, info }); // info: to reopen the form as it was if refused
    });
    showCard({ kind: "leave", el: form }, focus);
    countInto(count, text.value);
    if (error) {
      const field = { email_required: email, bad_frame: email, rate_limited: null }[error.code];
      flag(field === undefined ? text : field, t.errors[error.code] || error.message);
    }
  };

  /** Whether the site asks who the visitor is before they chat: not once they answered (this
   *  visitor, in this browser; the session says "off" once the server has their email) or,
   *  where the site only asks, skipped; nor when the page identified them by email. */
  const prechatDue = () => {
    if (!session || contact.email) return false;
    const done = load("localStorage", "prechat");
    if (session.prechat === "require") return done !== session.visitor_id;
    return session.prechat === "ask" && done !== session.visitor_id && done !== `skip:${session.visitor_id}`;
  };

  /** `skipped`: a skip answers an optional form only, never a required one. */
  const prechatDone = (skipped = false) => {
    save("localStorage", "prechat", skipped ? `skip:${session.visitor_id}` : session.visitor_id);
    if (card && card.kind === "prechat") closeCard();
    if (heldSend) {
      heldSend = false;
      submit();
    }
  };

  /** The pre-chat form: name and email, stored by `identify`, so the server checks them. */
  const openPrechat = (focus) => {
    if (card && card.kind === "prechat") {
      if (focus) card.el.querySelector("input").focus();
      return;
    }
    const required = session.prechat === "require";
    const name = h("input", { class: "in", name: "name", autocomplete: "name", maxlength: 200 });
    const email = h("input", { class: "in", name: "email", type: "email", autocomplete: "email", maxlength: 254, "aria-required": required });
    const problem = h("p", { class: "err", id: "pf-err", role: "alert" });
    const skip = !required && h("button", { type: "button" }, t.skip);
    const form = h(
      "form",
      { class: "card", novalidate: "", "aria-labelledby": "pf-title" },
      h("h3", { id: "pf-title" }, t.prechat),
      h("p", { class: "hint" }, t.prechatHint),
      h("label", null, t.name, name),
      h("label", null, required ? t.email : t.emailOptional, email),
      problem,
      h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, t.start), skip),
    );
    /** Say what is wrong with a field under the form, and mark that field (only that one). */
    const flag = (why, field = email) => {
      for (const input of [name, email]) {
        if (input !== field) {
          input.removeAttribute("aria-invalid");
          input.removeAttribute("aria-describedby");
        }
      }
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", "pf-err");
      problem.textContent = why;
      field.focus();
    };
    /** Send the answers; the server checks them again and names the field it refuses (in
     *  English: the widget says it in its own words). A refused field the page gave
     *  identify() (external_id) is not the visitor's to fix: the answers go without it. */
    const ask = (given) =>
      identifyAs(given).then(
        () => {
          contact = given;
          prechatDone();
        },
        ({ field }) => {
          if (field === "name") flag(t.nameInvalid, name);
          else if (field !== "email" && field in given) ask({ ...given, [field]: "" });
          else flag(t.emailInvalid);
        },
      );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const given = { ...contact, name: name.value.trim(), email: email.value.trim() };
      if (required && !given.email) return flag(t.errors.email_required);
      if (!given.name && !given.email) return prechatDone(true);
      if (given.email && !EMAIL.test(given.email)) return flag(t.emailInvalid);
      ask(given);
    });
    if (skip) skip.addEventListener("click", () => prechatDone(true));
    showCard({ kind: "prechat", el: form }, focus);
  };

  /** Ask for a 1–5 rating of the help the visitor got from an agent (§5). */
  const openCsat = (ticket) => {
    const problem = h("p", { class: "err", role: "alert" });
    const comment = h("input", { class: "in", name: "comment", dir: "auto", maxlength: MAX_COMMENT });
    const radio = (label, i) =>
      h(
        "label",
        null,
        h("input", { type: "radio", class: "sr", name: "rating", value: i + 1, "aria-label": `${i + 1} – ${label}` }),
        h("span", { "aria-hidden": "true" }, String(i + 1)),
      );
    const form = h(
      "form",
      { class: "card", novalidate: "" },
      h(
        "fieldset",
        null,
        h("legend", null, t.csat),
        h("div", { class: "scale" }, ...t.stars.map(radio)),
        h("p", { class: "ends", "aria-hidden": "true" }, h("span", null, t.stars[0]), h("span", null, t.stars[4])),
      ),
      h("label", null, t.comment, comment),
      problem,
      h("button", { type: "submit", class: "primary" }, t.rateSend),
      dismissButton(),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const picked = form.querySelector(":checked");
      problem.textContent = !picked ? t.pick : live ? "" : t.offline;
      if (!picked) form.querySelector("input").focus();
      else if (live) send({ type: "csat", rating: Number(picked.value), comment: comment.value.trim() });
    });
    // Handed back to the bot, the visitor goes on talking to it: the question is a compact entry
    // of the conversation, after the hand-back notice, not a card over the composer. It never takes
    // the focus, the bot's answers follow it, and it is offered once (docs/widget.md).
    const inLog = status === "bot";
    if (inLog) {
      form.classList.add("inlog");
      form.dataset.seq = lastSeq + 0.5; // later messages go below it (place)
      form.addEventListener("click", (event) => event.target.closest(".x") && closeCard(true));
      save("sessionStorage", "csat", ticket);
    }
    showCard({ kind: "csat", el: form, ticket, inLog });
  };

  const noteTyping = () => {
    if (!live) return;
    const now = Date.now();
    if (now - typingSentAt > 3000) {
      typingSentAt = now;
      send({ type: "typing", active: true });
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(stopTyping, 4000);
  };

  const stopTyping = () => {
    clearTimeout(typingIdle);
    if (typingSentAt) send({ type: "typing", active: false });
    typingSentAt = 0;
  };

  // --- rendering -----------------------------------------------------------------------------

  const mount = () => {
    if (ui) return;
    const lang = pickLanguage(session.site.default_language);
    t = STRINGS[lang];
    const host = document.createElement("csbot-widget");
    const shadow = host.attachShadow({ mode: "open" });
    // An adopted sheet is not an inline <style>, so a host page's strict CSP does not block it.
    if (shadow.adoptedStyleSheets && CSSStyleSheet.prototype.replaceSync) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
      shadow.innerHTML = SKELETON; // constant markup; every dynamic value is set below as text
    } else {
      shadow.innerHTML = `<style>${CSS}</style>${SKELETON}`;
    }
    const $ = (selector) => shadow.querySelector(selector);
    ui = {
      host,
      shadow,
      root: $(".root"),
      panel: $(".panel"),
      launcher: $(".launcher"),
      badge: $(".badge"),
      title: $(".title"),
      status: $(".status"),
      state: $(".state"),
      actions: $(".actions"), // slot for header buttons ("talk to a human")
      notice: $(".notice"), // slot above the composer (leave a message, rate the help)
      log: $(".log"),
      earlier: $(".earlier"), // closed conversations, above the current one
      list: $(".list"),
      count: $("#count"),
      human: h("button", { type: "button", class: "human" }, ...iconNodes(ICON_HUMAN), t.human),
      typing: $(".typing"),
      alert: $(".alert"),
      input: $("textarea"),
      picker: $("[type=file]"),
      sendButton: $(".send"),
      announcer: $("[aria-live]"),
    };
    const site = session.site;
    ui.root.lang = lang === "zh" ? "zh-Hans" : "en";
    applyTheme(site.theme_color);
    ui.title.textContent = site.name;
    $(".close").setAttribute("aria-label", t.close);
    ui.log.setAttribute("aria-label", t.log);
    ui.typing.setAttribute("aria-label", t.typing);
    ui.input.setAttribute("aria-label", t.message);
    ui.input.placeholder = t.placeholder;
    ui.sendButton.setAttribute("aria-label", t.send);
    $(".clip").setAttribute("aria-label", t.attach);
    $(".clip").addEventListener("click", () => ui.picker.click());
    ui.picker.addEventListener("change", () => {
      for (const file of ui.picker.files) attach(file);
      ui.picker.value = ""; // the same file may be picked again
    });
    // An image pasted into the message box is sent as a file (a screenshot of an error). Cells
    // copied from Excel or Word come with a picture of them too: their text is what was meant.
    ui.input.addEventListener("paste", (event) => {
      const data = event.clipboardData;
      if (!data.files.length || data.types.includes("text/plain")) return;
      event.preventDefault();
      Array.from(data.files).forEach(attach);
    });
    ui.actions.append(ui.human);
    renderGreeting();
    renderStatus();
    setUnread(0);

    ui.launcher.addEventListener("click", () => (isOpen ? close() : open()));
    $(".close").addEventListener("click", () => close());
    ui.root.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && isOpen) {
        event.stopPropagation();
        close();
      } else if (event.key === "Tab") {
        keepFocusInFullScreen(event);
      }
    });
    ui.input.addEventListener("keydown", (event) => {
      // Enter sends; Shift+Enter is a new line; Enter that confirms an IME candidate does neither.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submit();
      }
    });
    ui.input.addEventListener("input", () => {
      autosize();
      noteTyping();
    });
    shadow.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      submit();
    });
    ui.log.addEventListener("click", onLogClick);
    ui.log.addEventListener("scroll", () => (atEnd = nearBottom()));
    ui.log.addEventListener("submit", onWhy);
    ui.human.addEventListener("click", askHuman);
    ui.notice.addEventListener("click", (event) => event.target.closest(".x") && closeCard(true));
    window.addEventListener("online", reconnectNow);
    setInterval(rollOver, 60000);
    // Another tab of this site saw the replies (the visitor read them there).
    window.addEventListener("storage", (event) => event.key === `${KEY}seen` && !isOpen && countUnread());
    if (window.visualViewport) {
      visualViewport.addEventListener("resize", fitViewport);
      visualViewport.addEventListener("scroll", fitViewport);
    }
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible") return;
      reconnectNow();
      if (isOpen) reportRead();
    });
    // A file still uploading, or failed and not refused for itself, is lost with the page (it
    // is not kept as the outbox's texts are: docs/widget.md, Attachments): the browser asks first.
    addEventListener("beforeunload", (event) => {
      for (const m of outbox.values()) {
        if (m.file && !/^file_/.test(m.failed && m.failed.code)) {
          event.preventDefault();
          event.returnValue = true; // what browsers before 2023 asked for
        }
      }
    });

    document.documentElement.appendChild(host);
    for (const item of load("sessionStorage", "outbox") || []) queueMessage(item.client_id, item.text, item.leave);
    const left = load("sessionStorage", "leave"); // the form was open on the previous page
    if (left) openLeave(left);
    if (load("sessionStorage", "open") || wantOpen) open({ focus: wantOpen });
  };

  // The site owner's data-lang, else the browser's preference.
  const askedLanguage = () => script.getAttribute("data-lang") || navigator.language || "";

  const pickLanguage = (siteDefault) => {
    const asked = askedLanguage().toLowerCase();
    if (asked.startsWith("zh")) return "zh";
    if (asked.startsWith("en")) return "en";
    return siteDefault === "en" ? "en" : "zh";
  };

  const applyTheme = (color) => {
    if (!/^#[0-9a-f]{6}$/i.test(color || "")) return;
    const n = parseInt(color.slice(1), 16);
    const channel = (v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
    const lum = 0.2126 * channel(n >> 16) + 0.7152 * channel((n >> 8) & 255) + 0.0722 * channel(n & 255);
    // White text on dark accents, dark text on light ones (WCAG contrast crossover ≈ 0.18).
    const light = lum > 0.18;
    ui.root.style.setProperty("--accent", color);
    ui.root.style.setProperty("--ink", light ? "#0f172a" : "#ffffff");
    ui.root.style.setProperty("--link", light ? "#1d4ed8" : color);
  };

  const renderGreeting = () => {
    const greeting = (session.site.greeting || "").trim();
    if (!greeting) return;
    const message = { id: "greeting", author: "bot", text: greeting, state: "complete", citations: [] };
    ui.list.prepend(render(message));
    message.el.dataset.seq = "0";
  };

  const renderStatus = () => {
    if (!ui) return;
    const down = !live && !replaying;
    ui.status.classList.toggle("down", down);
    ui.state.textContent = down ? (historyLoaded ? t.offline : t.connecting) : t.status[status] || status;
    ui.status.dataset.status = status;
    ui.input.placeholder = status === "closed" ? t.placeholderClosed : t.placeholder;
    renderHuman();
  };

  const setStatus = (next) => {
    status = next;
    if (next !== "bot") showTyping(false);
    renderStatus();
  };

  /** "Talk to a human": offered while the bot has the conversation (or it is closed). */
  const renderHuman = () => {
    const hide = status === "waiting" || status === "agent";
    if (hide && ui.shadow.activeElement === ui.human) ui.input.focus();
    ui.human.hidden = hide;
    // aria-disabled, not disabled: a disabled button drops the keyboard focus.
    ui.human.setAttribute("aria-disabled", String(!live || askedHuman));
  };

  /** Show a text's length near the limit on `el`; return whether it is over the limit. */
  const countInto = (el, text) => {
    const n = codePoints(text);
    el.hidden = n < COUNT_FROM;
    el.classList.toggle("over", n > MAX_CHARS);
    el.textContent = `${n} / ${MAX_CHARS}${n > MAX_CHARS ? t.over(n - MAX_CHARS) : ""}`;
    return n > MAX_CHARS;
  };

  const authorLabel = (message) =>
    message.author === "agent" && message.author_name ? message.author_name : t.author[message.author] || "";

  /** (Re)build one message's element from its current state. */
  const render = (message) => {
    const el = message.el || (message.el = h("div"));
    shownMessage.set(el, message);
    el.className = `msg ${message.author}${message.pending ? " pending" : ""}${message.failed ? " failed" : ""}`;
    if (message.seq) el.dataset.seq = message.seq;
    if (typeof message.id === "number") el.dataset.id = message.id;
    const cites = new Map((message.citations || []).map((c) => [c.n, c]));
    const ctx = { t, cites, prefix: `src-${message.id}-` };
    // dir=auto: each message runs in its own text's direction (Arabic, Hebrew right to left).
    const bubble = h("div", { class: "bubble", dir: "auto" });
    if (message.created_at) bubble.title = new Date(message.created_at).toLocaleString(ui.root.lang);
    if (message.attachment) bubble.append(attachmentNode(message.attachment));
    if (message.state === "streaming" && !message.text) bubble.append(dots());
    // A visitor's text and the server's notices are shown as they are; the others are markdown.
    else if (message.author === "visitor" || message.author === "system") bubble.append(message.text);
    else bubble.append(markdown(message.text, ctx));
    const showName = message.author === "agent" && message.author_name;
    const parts = [
      h("span", { class: "sr" }, `${authorLabel(message)}: `),
      showName && h("div", { class: "name", "aria-hidden": "true" }, message.author_name),
      bubble,
      message.state !== "streaming" && cites.size && sources(message, ctx),
      meta(message),
      message.at,
      rateBar(message),
    ];
    el.replaceChildren(...parts.filter(Boolean));
    return el;
  };

  /** An image as a thumbnail opening full size, any other file as its name and size; the name
   *  is only ever text (an attribute or a text node). */
  const attachmentNode = (file) => {
    const href = file.url.startsWith("blob:") ? file.url : safeUrl(file.url, ORIGIN);
    const a = h("a", { class: "file", href, target: "_blank", rel: "noopener noreferrer" });
    if (file.content_type.startsWith("image/")) {
      const img = h("img", { src: href, alt: file.name, width: file.width, height: file.height });
      // It grows its message once loaded: a log that was at its end stays there.
      img.onload = () => atEnd && scrollToEnd();
      a.append(img);
    } else a.append(...iconNodes(ICON_FILE), `${file.name} · ${fileSize(file.size)}`);
    return a;
  };

  const fileSize = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${Math.round(n / 1024)} KB` : `${(n / 1048576).toFixed(1)} MB`);

  const dots = () => h("span", { class: "dots", role: "img", "aria-label": t.typing }, h("i"), h("i"), h("i"));

  const sources = (message, ctx) =>
    h(
      "div",
      { class: "sources" },
      h("span", null, t.sources),
      h(
        "ol",
        null,
        ...message.citations.map((cite) => {
          const href = safeUrl(cite.url, ORIGIN);
          const title = cite.title || cite.url || "";
          return h(
            "li",
            { id: ctx.prefix + cite.n, value: cite.n, tabindex: "-1" },
            href ? link(href, [title]) : title,
          );
        }),
      ),
    );

  // Refusals of the message or file itself (docs/protocol.md): sending it again is refused again,
  // so they get no Retry; the rest (network, 5xx, rate limit, unavailable, email) may pass later.
  const REFUSED = new Set(["file_type_not_allowed", "file_too_large", "file_empty", "file_missing", "empty_message", "message_too_long", "frame_too_large", "bad_frame"]);

  const meta = (message) => {
    if (message.failed) {
      const { code } = message.failed;
      const reason = t.errors[code] || message.failed.message;
      return h("div", { class: "meta", role: "status" }, `${t.failed}${reason}`, !REFUSED.has(code) && h("button", { type: "button", class: "retry" }, t.retry));
    }
    if (message.pending) return h("div", { class: "meta" }, t.sending, message.progress ? ` ${message.progress}%` : "");
    if (message.state === "interrupted") return h("div", { class: "meta" }, t.interrupted);
    return null;
  };

  /** Put a message in seq order; unacknowledged ones (no seq yet) stay at the end. */
  const place = (message) => {
    const el = message.el;
    const was = el.parentNode === ui.list && el.previousElementSibling;
    const seq = message.seq || Infinity;
    let before = null;
    for (const other of ui.list.children) {
      if (other !== el && Number(other.dataset.seq || Infinity) > seq) {
        before = other;
        break;
      }
    }
    if (before) {
      if (el.nextSibling !== before) ui.list.insertBefore(el, before);
    } else if (el.parentNode !== ui.list || el.nextSibling) {
      ui.list.append(el);
    }
    // Where runs of one author end changes beside the old place and the new one only.
    for (const other of [was, el.previousElementSibling, el]) if (other) stamp(other);
  };

  /** Take a message out of the list: the one before it may end a run now. */
  const unplace = (el) => {
    const before = el.previousElementSibling;
    el.remove();
    if (before) stamp(before);
  };

  const CLOCK = { hour: "numeric", minute: "2-digit" };
  const PAUSE = 5 * 60000; // messages further apart than this are two runs
  const dayOf = (date) => date.toDateString(); // in the visitor's time zone

  /** Show the time under a message that ends a run of its author's messages (the next is
   *  another's, on another day, or more than PAUSE later); the bubble's tooltip keeps the full
   *  date and time. A message still sending (no time) continues a run. */
  const stamp = (el) => {
    const message = shownMessage.get(el);
    if (!message) return;
    const next = shownMessage.get(el.nextElementSibling);
    const at = new Date(message.created_at);
    const then = next && new Date(next.created_at); // invalid while the next is still sending
    const apart = then - at > PAUSE || (!isNaN(then) && dayOf(then) !== dayOf(at));
    const last = !next || next.author !== message.author || apart;
    if (!last || isNaN(at)) {
      if (message.at) message.at.remove();
      message.at = null;
    } else if (!message.at || message.at.dateTime !== message.created_at) {
      if (!message.at) el.insertBefore((message.at = h("time", { class: "at" })), el.querySelector(".rate"));
      message.at.dateTime = message.created_at;
      message.at.textContent = sentAt(at);
    }
  };

  /** When a message was sent, as read today: the time alone today, "Yesterday 9:05" the day
   *  before, the date before that (with the year when it is not this year). */
  const sentAt = (at) => {
    const now = new Date();
    const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
    if (dayOf(at) === dayOf(now)) return formatWhen(at, CLOCK);
    if (dayOf(at) === dayOf(yesterday)) return `${t.yesterday} ${formatWhen(at, CLOCK)}`;
    const year = at.getFullYear() === now.getFullYear() ? undefined : "numeric";
    return formatWhen(at, { month: "short", day: "numeric", year, ...CLOCK });
  };

  // The day the shown times were written for: once it is over (midnight, or a laptop woken on a
  // later day), "today" and "yesterday" under the messages are rewritten.
  let today = dayOf(new Date());
  const rollOver = () => {
    if (dayOf(new Date()) === today) return;
    today = dayOf(new Date());
    for (const el of ui.log.querySelectorAll(".at")) el.textContent = sentAt(new Date(el.dateTime));
  };

  const onLogClick = (event) => {
    const cite = event.target.closest(".cite");
    if (cite) {
      event.preventDefault();
      const target = ui.shadow.getElementById(cite.getAttribute("href").slice(1));
      if (target) {
        target.scrollIntoView({ block: "nearest" });
        target.focus();
      }
      return;
    }
    const thumb = event.target.closest(".thumb");
    if (thumb) {
      castVote(Number(thumb.closest(".msg").dataset.id), thumb.dataset.vote);
      return;
    }
    const button = event.target.closest(".retry");
    if (!button) return;
    const pending = Array.from(outbox.values()).find((m) => m.el && m.el.contains(button));
    if (pending && pending.file) upload(pending);
    else if (pending && live) resend(pending);
    else if (pending) {
      pending.failed = null;
      render(pending); // sent again when the socket is back
    }
  };

  let atEnd = true; // the log is scrolled to its end, as of its last scroll
  const nearBottom = () => ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 60;
  const scrollToEnd = () => {
    ui.log.scrollTop = ui.log.scrollHeight;
  };
  const updateKeepingScroll = (update) => {
    const follow = nearBottom();
    update();
    if (follow) scrollToEnd();
  };

  const showTyping = (active, timeout) => {
    if (!ui) return;
    clearTimeout(typingTimer);
    updateKeepingScroll(() => {
      ui.typing.hidden = !active;
    });
    if (active) typingTimer = setTimeout(() => showTyping(false), timeout);
  };

  let alertTimer = 0;
  const showAlert = (text, sticky) => {
    clearTimeout(alertTimer);
    ui.alert.textContent = text;
    ui.alert.hidden = false;
    if (!sticky) alertTimer = setTimeout(() => (ui.alert.hidden = true), 8000);
  };

  /** Tell screen readers about a finished message once, as plain text. */
  const announce = (message) => {
    if (message.announced) return;
    message.announced = true;
    ui.announcer.textContent = `${authorLabel(message)}: ${message.el.querySelector(".bubble").textContent}`;
  };

  const setUnread = (n) => {
    unread = n;
    ui.badge.hidden = !n;
    ui.badge.textContent = n > 9 ? "9+" : String(n);
    const label = isOpen ? t.close : t.open;
    ui.launcher.setAttribute("aria-label", n ? `${label} (${t.unread(n)})` : label);
  };

  // The stylesheet's rule that makes the open panel fill a phone's screen.
  const PHONE = "(max-width: 480px)";
  const fullScreen = () => isOpen && matchMedia(PHONE).matches;

  /** Full screen on a phone, the panel hides the page: Tab goes round inside it, as in a modal. */
  const keepFocusInFullScreen = (event) => {
    if (!fullScreen()) return;
    const focusable = Array.from(ui.panel.querySelectorAll("button, a[href], input, textarea, select, [tabindex]")).filter(
      (el) => !el.disabled && el.tabIndex >= 0 && el.getClientRects().length,
    );
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    const active = ui.shadow.activeElement;
    if (event.shiftKey && (active === first || !ui.panel.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !ui.panel.contains(active))) {
      event.preventDefault();
      first.focus();
    }
  };

  /** Keep the full-screen panel above a phone's on-screen keyboard (it shrinks the visual viewport only). */
  const fitViewport = () => {
    const style = ui.panel.style;
    const viewport = window.visualViewport;
    ui.panel.setAttribute("aria-modal", String(fullScreen()));
    if (!fullScreen() || !viewport) {
      style.top = style.height = style.bottom = "";
      return;
    }
    style.top = `${viewport.offsetTop}px`;
    style.height = `${viewport.height}px`;
    style.bottom = "auto";
  };

  const autosize = () => {
    const input = ui.input;
    input.style.height = "";
    input.style.height = `${Math.min(input.scrollHeight + 2, 128)}px`;
    ui.sendButton.disabled = countInto(ui.count, input.value) || !input.value.trim();
  };

  // --- the page's API: window.csbot ----------------------------------------------------------

  let wantOpen = false;

  const open = ({ focus = true } = {}) => {
    if (!ui) {
      wantOpen = true;
      return;
    }
    isOpen = true;
    save("sessionStorage", "open", true);
    ui.root.classList.add("open");
    ui.panel.hidden = false;
    ui.launcher.setAttribute("aria-expanded", "true");
    ui.launcher.replaceChildren(...iconNodes(ICON_DOWN), ui.badge);
    markSeen();
    fitViewport();
    scrollToEnd();
    if (prechatDue() && (!card || card.kind === "prechat")) openPrechat(focus);
    else if (focus) ui.input.focus({ preventScroll: true });
  };

  const close = () => {
    wantOpen = false;
    if (!ui || !isOpen) return;
    const hadFocus = ui.shadow.activeElement !== null;
    isOpen = false;
    save("sessionStorage", "open", null);
    ui.root.classList.remove("open");
    ui.panel.hidden = true;
    ui.launcher.setAttribute("aria-expanded", "false");
    ui.launcher.replaceChildren(...iconNodes(ICON_CHAT), ui.badge);
    setUnread(unread);
    if (hadFocus) ui.launcher.focus();
  };

  const iconNodes = (svg) => {
    const holder = document.createElement("span");
    holder.innerHTML = svg; // constant icon markup
    return Array.from(holder.childNodes);
  };

  /** Store who the visitor is ({name, email, external_id}); resolves once the server did. */
  const identifyAs = (details) =>
    new Promise((resolve, reject) => {
      const frame = { type: "identify", ...details };
      identifyQueue.push({ frame, resolve, reject });
      if (greeted) send(frame); // otherwise sent after the next `ready`
    });

  /** Tell csbot who the page's signed-in user is; resolves once the server stored it. */
  const identify = ({ name, email, externalId } = {}) => {
    const text = (value) => (value == null ? "" : String(value).trim());
    contact = { name: text(name), email: text(email), external_id: text(externalId) };
    // Queued first: a question the form held goes after it, so the server has the email.
    const stored = identifyAs(contact);
    if (contact.email && card && card.kind === "prechat") prechatDone(); // the page knows them
    return stored;
  };

  window.csbot = { version: "1", open: () => open(), close, identify };
  for (const [method, ...args] of early) {
    if (typeof window.csbot[method] === "function") window.csbot[method](...args);
  }
  start();
})();
