/* csbot agent console. Plain JS, no framework. Talks to /ws/console/ (docs/handoff.md).
 *
 * Everything a visitor or the bot wrote is put on the page with textContent, never as HTML.
 */
(function () {
  "use strict";

  var PING_MS = 25000;
  // A socket that answers neither a ping nor a reply within this is taken for dead: networks
  // drop silently, and the browser may take minutes to notice.
  var ANSWER_WAIT_MS = 10000;
  var TYPING_IDLE_MS = 4000;
  var PRIORITY_ORDER = { urgent: 0, high: 1, normal: 2, low: 3 };
  var REASONS = {
    customer_request: gettext("Asked for a human"),
    missing_knowledge: gettext("No answer in the KB"),
    repeated_failure: gettext("Bot failed repeatedly"),
    negative_sentiment: gettext("Frustrated"),
    content_filter: gettext("Stopped by the guard"),
    model_unavailable: gettext("Model unavailable"),
    interrupted: gettext("Answer cut off"),
  };
  // What more there is to say than the reason, by code (apps/handoff/details.py: the same
  // wording in English); tickets from before the codes carry only their English text.
  var DETAILS = {
    widget_button: gettext("asked in the widget"),
    keyword: gettext("keyword: %(phrase)s"),
    left_message: gettext("left a message"),
    unanswered: gettext("%(count)s question(s) in a row without a grounded answer"),
    guard_input: gettext("the guard stopped the question: %(category)s"),
    guard_output: gettext("the guard stopped the answer: %(category)s"),
    provider_filter: gettext("the provider's content filter refused the answer"),
    model_failed: gettext("no model could answer: %(outcome)s"),
    accepted_offer: gettext("accepted the bot's offer of a human"),
    worker_lost: gettext("the answer stopped mid-stream: the worker writing it went away"),
  };
  var TICKET_STATUSES = {
    new: pgettext("ticket status", "new"),
    open: pgettext("ticket status", "open"),
    pending: pgettext("ticket status", "pending"),
    solved: pgettext("ticket status", "solved"),
    closed: pgettext("ticket status", "closed"),
  };
  var CONVERSATION_STATUSES = {
    bot: gettext("with the bot"),
    waiting: gettext("waiting for an agent"),
    agent: gettext("with an agent"),
    closed: pgettext("conversation status", "closed"),
  };
  var HISTORY = {
    "handoff.requested": gettext("handoff requested"),
    "handoff.unavailable": gettext("no agent available"),
    "handoff.message_left": gettext("message left"),
    "handoff.assigned": gettext("assigned"),
    "handoff.transferred": gettext("transferred"),
    "handoff.faq_promoted": gettext("answer saved as draft FAQ"),
    "handoff.handed_back": gettext("handed back to the bot"),
    "handoff.solved": gettext("solved"),
    "handoff.closed": gettext("closed"),
  };
  var VIA = {
    claim: gettext("claimed"),
    round_robin: gettext("assigned automatically"),
    transfer: gettext("transferred"),
  };
  var ACTORS = { visitor: gettext("the visitor"), system: gettext("the system") };
  var PRESENCES = { online: gettext("online"), away: gettext("away"), offline: gettext("offline") };
  var PRIORITIES = { high: gettext("high"), urgent: gettext("urgent") };
  // A search opens solved and closed tickets too: nobody replies in them any more.
  var ENDED_HINT = gettext("This ticket has ended: its conversation is read-only; notes are still open to the team.");

  var state = {
    me: null,
    tickets: new Map(),
    agents: new Map(),
    teams: [],
    canned: [],
    filter: "waiting",
    selectedId: null,
    detail: null,
    // The transcript is scrolled to its end, as of its last scroll or render.
    transcriptAtEnd: true,
    unread: new Map(),
    // The last seq of each ticket this console told the server it had on screen.
    seenSeq: new Map(),
    mode: "reply",
    cannedChoices: [],
    cannedIndex: 0,
    pendingReply: null,
    typingSentAt: 0,
    typingTimer: null,
    seenTickets: new Set(),
    // Tickets this console asked to claim: their assignment is no news to announce.
    claiming: new Set(),
    // Replies and notes sent but not yet confirmed, by ref: {ticketId, text, mode}.
    unsent: new Map(),
    // The ticket in the address (#ticket-12) when the page loaded: opened once the queue is in.
    restoreId: null,
    // Who else has the open ticket open: [{id, name, typing}], colleagues and, under the
    // agent's own id, their other consoles.
    viewers: [],
    // What the search box filters the queue on, and the server's answer to it (past tickets):
    // {query, tickets, next_before_id}, or null.
    search: "",
    found: null,
    // The page asked for last (its before_id; null for the first page).
    searchBefore: null,
  };
  var DRAFTS_KEY = "csbot.console.drafts";
  // The server refuses shorter searches (apps/handoff/protocol.py).
  var SEARCH_MIN_CHARS = 2;
  var FILTER_KEY = "csbot.console.filter";
  var TICKET_HASH = /^#ticket-(\d+)$/;

  var $ = function (id) { return document.getElementById(id); };

  /* ---------- DOM helpers: text only ---------- */

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  /** A language as agents read it: the code stored (zh-hans, en-US) only when it is neither. */
  function languageName(code) {
    if (!code) return code;
    var base = code.toLowerCase().split(/[-_]/)[0];
    return { zh: gettext("Chinese"), en: gettext("English") }[base] || code;
  }

  /** A link to ``url`` (already checked with safeUrl), opened apart from the console. */
  function link(url, text) {
    var a = el("a", "", text);
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  function safeUrl(url) {
    try {
      var parsed = new URL(url, window.location.href);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  // Times and lists are written in the console's language (its switch may differ from the
  // browser's), as its words are.
  var LOCALE = document.documentElement.lang || undefined;

  function clock(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return d.toLocaleTimeString(LOCALE, { hour: "2-digit", minute: "2-digit" });
  }

  function since(iso) {
    var minutes = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 60000));
    if (minutes < 1) return gettext("now");
    if (minutes < 60) return interpolate(gettext("%(minutes)s min"), { minutes: minutes }, true);
    var hours = Math.floor(minutes / 60);
    if (hours < 48) return interpolate(gettext("%(hours)s h %(minutes)s min"), { hours: hours, minutes: minutes % 60 }, true);
    return interpolate(gettext("%(days)s d"), { days: Math.floor(hours / 24) }, true);
  }

  function dueState(iso, doneIso) {
    if (!iso || doneIso) return null;
    var left = (new Date(iso).getTime() - Date.now()) / 60000;
    if (left < 0) return { cls: "overdue", text: interpolate(gettext("overdue %(time)s"), { time: since(iso) }, true) };
    if (left < 5) return { cls: "soon", text: interpolate(gettext("due in %(minutes)s min"), { minutes: Math.ceil(left) }, true) };
    return { cls: "", text: interpolate(gettext("due %(time)s"), { time: clock(iso) }, true) };
  }

  function codePoints(text) {
    return Array.from(text).length;
  }

  function toast(text, isError) {
    var node = el("div", "toast" + (isError ? " error" : ""), text);
    $("toasts").appendChild(node);
    setTimeout(function () { node.remove(); }, isError ? 6000 : 3500);
  }

  /* ---------- socket ---------- */

  var socket = null;
  var refCounter = 0;
  var pingTimer = null;
  var backoff = 500;
  var pendingRefs = new Map();
  var answerTimer = null;

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var sock = new WebSocket(scheme + window.location.host + document.body.dataset.socketPath);
    socket = sock;
    setConnection("connecting", gettext("Connecting…"));
    sock.addEventListener("open", function () {
      backoff = 500;
      setConnection("open", gettext("Live"));
      clearInterval(pingTimer);
      pingTimer = setInterval(function () {
        if (send({ type: "ping" })) expectAnswer();
      }, PING_MS);
    });
    sock.addEventListener("message", function (event) {
      if (sock !== socket) return;
      clearTimeout(answerTimer);
      answerTimer = null;
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      handle(frame);
    });
    sock.addEventListener("close", function (event) {
      if (sock === socket) dropped(event.code);
    });
  }

  /** Something was sent that the server answers (a ping, a reply): no frame back in time
   *  means the socket is dead though the browser still calls it open. */
  function expectAnswer() {
    if (answerTimer === null) answerTimer = setTimeout(abandon, ANSWER_WAIT_MS);
  }

  function abandon() {
    var dead = socket;
    dropped(1006);
    try { dead.close(); } catch (e) { /* already closing */ }
  }

  function dropped(code) {
    socket = null;
    clearInterval(pingTimer);
    clearTimeout(answerTimer);
    answerTimer = null;
    pendingRefs.clear();
    // Replies and notes the server never confirmed go back to their boxes: they may or may
    // not have been stored, which the transcript shows once the console is live again.
    if (state.unsent.size) {
      state.unsent.forEach(putBack);
      state.unsent.clear();
      toast(gettext("The connection dropped before your message was confirmed: it is back in the box. Check the conversation before sending it again."), true);
    }
    if (code === 4401 || code === 4403) {
      setConnection("closed", code === 4401 ? gettext("Signed out") : gettext("Not an agent"));
      if (code === 4401) window.location.reload();
      return;
    }
    setConnection("closed", gettext("Reconnecting…"));
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 15000);
  }

  function setConnection(kind, text) {
    var node = $("connection");
    node.dataset.state = kind;
    node.textContent = text;
  }

  function send(frame, onResult) {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      toast(gettext("Not connected; try again in a moment."), true);
      return null;
    }
    refCounter += 1;
    frame.ref = "r" + refCounter;
    if (onResult) pendingRefs.set(frame.ref, onResult);
    socket.send(JSON.stringify(frame));
    return frame.ref;
  }

  /* ---------- frames from the server ---------- */

  function handle(frame) {
    switch (frame.type) {
      case "ready": return onReady(frame);
      case "ticket": return upsertTicket(frame.ticket, true);
      case "ticket.removed": return removeTicket(frame.ticket_id);
      case "ticket.detail": return onDetail(frame);
      case "ticket.viewers": return onViewers(frame);
      case "tickets.found": return onFound(frame);
      case "note.new": return onNote(frame.note);
      case "presence": return onPresence(frame.agent);
      case "message.new": return onMessage(frame.conversation_id, frame.message, true);
      case "message.done": return onMessage(frame.conversation_id, frame.message, false);
      case "message.delta": return onDelta(frame);
      case "message.reset": return onReset(frame);
      case "typing": return onTyping(frame);
      case "conversation.status": return onConversationStatus(frame);
      case "conversation.read": return onConversationRead(frame);
      case "assist.result": return onSuggestion(frame);
      case "result": return onResult(frame);
      case "error": return onError(frame);
      default: return undefined;
    }
  }

  function onReady(frame) {
    state.me = frame.agent;
    state.teams = frame.teams;
    state.canned = frame.canned;
    state.agents = new Map(frame.agents.map(function (a) { return [a.id, a]; }));
    state.tickets = new Map(frame.tickets.map(function (t) { return [t.id, t]; }));
    // Counted by the server from what the assignee (unassigned: anyone) last had on screen.
    state.unread = new Map(frame.tickets.filter(function (t) { return t.unread; }).map(function (t) { return [t.id, t.unread]; }));
    frame.tickets.forEach(function (t) { state.seenTickets.add(t.id); });
    $("availability").value = frame.agent.availability;
    $("presence-dot").dataset.presence = frame.agent.availability;
    renderQueue();
    renderAgents();
    if (state.selectedId !== null) send({ type: "ticket.open", ticket_id: state.selectedId });
    // Not only the queue's: a solved or closed ticket opened from the search comes back too.
    // The server opens only tickets of the agent's teams.
    else if (state.restoreId !== null) select(state.restoreId);
    state.restoreId = null;
  }

  function upsertTicket(ticket, live) {
    var active = ticket.status === "new" || ticket.status === "open" || ticket.status === "pending";
    var isNew = !state.seenTickets.has(ticket.id);
    var before = state.tickets.get(ticket.id);
    // Only the queue's snapshot carries the latest message; a ticket's changes do not.
    if (ticket.last_message === undefined) ticket.last_message = before ? before.last_message : "";
    state.seenTickets.add(ticket.id);
    if (active) state.tickets.set(ticket.id, ticket);
    else {
      state.tickets.delete(ticket.id);
      if (ticket.id !== state.selectedId) draftSave(ticket.id, null); // solved or closed
    }
    if (live && isNew && ticket.status === "new") notify(gettext("New ticket"), visitorName(ticket) + ": " + ticket.subject);
    var nowMine = state.me && ticket.assignee && ticket.assignee.id === state.me.id;
    var wasMine = before && before.assignee && state.me && before.assignee.id === state.me.id;
    if (live && active && nowMine && !wasMine && !state.claiming.has(ticket.id)) {
      notify(gettext("Ticket assigned to you"), visitorName(ticket) + ": " + ticket.subject);
    }
    state.claiming.delete(ticket.id);
    if (state.detail && state.detail.ticket.id === ticket.id) {
      state.detail.ticket = ticket;
      renderDetailHead();
      renderFields();
      // The history and notes of the open ticket changed with it: fetch them again.
      if (live) send({ type: "ticket.open", ticket_id: ticket.id });
    }
    renderQueue();
  }

  function removeTicket(ticketId) {
    state.tickets.delete(ticketId);
    draftSave(ticketId, null);
    if (state.selectedId === ticketId) closeDetail();
    renderQueue();
  }

  /** The open ticket is on screen: its unread count goes, and the server learns up to where
   * (the queue's count after a reload starts there; the assignee's, once there is one). */
  function markSeen() {
    if (!state.detail || document.hidden) return;
    var id = state.detail.ticket.id;
    state.unread.delete(id);
    var seq = 0;
    state.detail.messages.forEach(function (m) { seq = Math.max(seq, m.seq); });
    if (seq <= (state.seenSeq.get(id) || 0) || !socket || socket.readyState !== WebSocket.OPEN) return;
    state.seenSeq.set(id, seq);
    send({ type: "ticket.seen", ticket_id: id, seq: seq });
  }

  function onConversationRead(frame) {
    if (!state.detail || state.detail.conversation.id !== frame.conversation_id) return;
    state.detail.conversation.visitor_read_seq = frame.seq;
    renderTranscript();
  }

  function onDetail(frame) {
    if (frame.ticket.id !== state.selectedId) return;
    var refresh = !!(state.detail && state.detail.ticket.id === frame.ticket.id);
    state.detail = {
      ticket: frame.ticket,
      conversation: frame.conversation,
      messages: new Map(frame.messages.map(function (m) { return [m.id, m]; })),
      notes: frame.notes,
      events: frame.events,
      visitor: frame.visitor,
    };
    state.unread.delete(frame.ticket.id);
    markSeen();
    $("no-ticket").hidden = true;
    $("ticket-view").hidden = false;
    $("details").hidden = false;
    if (!refresh) {
      $("suggestion").hidden = true;
      $("typing").hidden = true;
    }
    renderDetailHead();
    renderTranscript();
    renderFields();
    renderNotes();
    renderHistory();
    renderQueue();
  }

  function onViewers(frame) {
    if (frame.ticket_id !== state.selectedId) return;
    state.viewers = frame.viewers;
    renderViewers();
  }

  /** Colleagues with the open ticket open too, so two agents do not answer one visitor; and
   *  the agent's own other tab, whose draft this one does not have. */
  function renderViewers() {
    var node = $("ticket-viewers");
    var names = function (list) {
      return new Intl.ListFormat(LOCALE, { type: "conjunction" })
        .format(list.map(function (v) { return v.name; }));
    };
    var myId = state.me && state.me.id;
    var colleagues = state.viewers.filter(function (v) { return v.id !== myId; });
    var typing = colleagues.filter(function (v) { return v.typing; });
    var elsewhere = state.viewers.find(function (v) { return v.id === myId; });
    var parts = [];
    if (colleagues.length) parts.push(interpolate(ngettext("%(names)s is also viewing this ticket.", "%(names)s are also viewing this ticket.", colleagues.length), { names: names(colleagues) }, true));
    if (typing.length) parts.push(interpolate(ngettext("%(names)s is typing a reply.", "%(names)s are typing a reply.", typing.length), { names: names(typing) }, true));
    if (elsewhere) parts.push(elsewhere.typing ? gettext("You are typing a reply in another tab or window.") : gettext("You also have this ticket open in another tab or window."));
    var text = parts.join(" ");
    // Written only when it changes: the live region speaks each change once.
    if (node.textContent !== text) node.textContent = text;
  }

  function onNote(note) {
    if (!state.detail || state.detail.ticket.id !== note.ticket_id) return;
    if (state.detail.notes.some(function (n) { return n.id === note.id; })) return;
    state.detail.notes.push(note);
    renderNotes();
  }

  function onPresence(agent) {
    state.agents.set(agent.id, agent);
    if (state.me && agent.id === state.me.id) {
      $("presence-dot").dataset.presence = agent.presence;
      if (agent.presence !== "offline") $("availability").value = agent.presence;
    }
    renderAgents();
  }

  /** The visitor's name, email or the name they left; else "Visitor" and their short tag. */
  function visitorName(ticket) {
    return ticket.visitor_name || interpolate(gettext("Visitor %(tag)s"), { tag: ticket.visitor_tag }, true);
  }

  function detailText(fields) {
    var wording = DETAILS[fields.detail_code];
    return wording ? interpolate(wording, fields.detail_values || {}, true) : fields.detail;
  }

  function ticketOfConversation(conversationId) {
    var found = null;
    state.tickets.forEach(function (t) { if (t.conversation_id === conversationId) found = t; });
    return found;
  }

  function onMessage(conversationId, message, isNew) {
    var queued = ticketOfConversation(conversationId);
    var said = message.text || (message.attachment ? "📎 " + message.attachment.name : "");
    if (queued && message.author !== "system" && said) {
      queued.last_message = said;
      if (state.search) renderQueue();
    }
    if (state.detail && state.detail.conversation.id === conversationId) {
      state.detail.messages.set(message.id, message);
      renderTranscript();
      markSeen();
      if (message.author === "visitor") $("typing").hidden = true;
      // Screen readers hear what arrived, once it is whole; not the agent's own words.
      if (message.author !== "agent" && message.state !== "streaming" && said) {
        var who = message.author === "visitor" ? visitorName(state.detail.ticket) : message.author === "bot" ? gettext("Bot") : "";
        $("transcript-news").textContent = who ? who + ": " + said : said;
      }
    }
    if (isNew && message.author === "visitor") {
      var ticket = ticketOfConversation(conversationId);
      var viewing = state.detail && state.detail.conversation.id === conversationId && !document.hidden;
      // A colleague's ticket this console once opened is still followed: it is theirs to hear.
      var forMe = ticket && (!ticket.assignee || (state.me && ticket.assignee.id === state.me.id));
      if (forMe && !viewing) {
        state.unread.set(ticket.id, (state.unread.get(ticket.id) || 0) + 1);
        renderQueue();
        notify(visitorName(ticket), said);
      }
    }
  }

  function onDelta(frame) {
    if (!state.detail || state.detail.conversation.id !== frame.conversation_id) return;
    var message = state.detail.messages.get(frame.id);
    // A delta that does not continue what we hold means we joined mid-stream: wait for done.
    // One for a message already done is from an answer a takeover cut off.
    if (!message || message.state !== "streaming" || codePoints(message.text) !== frame.offset) return;
    message.text += frame.text;
    renderTranscript();
  }

  function onReset(frame) {
    if (!state.detail || state.detail.conversation.id !== frame.conversation_id) return;
    var message = state.detail.messages.get(frame.id);
    if (message) { message.text = ""; renderTranscript(); }
  }

  function onTyping(frame) {
    if (!state.detail || state.detail.conversation.id !== frame.conversation_id) return;
    var node = $("typing");
    if (!frame.active) { node.hidden = true; return; }
    var who = frame.author === "visitor" ? visitorName(state.detail.ticket) : frame.name;
    node.textContent = interpolate(gettext("%(name)s is typing…"), { name: who }, true);
    node.hidden = false;
  }

  function onConversationStatus(frame) {
    if (!state.detail || state.detail.conversation.id !== frame.conversation_id) return;
    state.detail.conversation.status = frame.status;
    renderDetailHead();
  }

  function onSuggestion(frame) {
    if (!state.detail || state.detail.ticket.id !== frame.ticket_id) return;
    $("composer-hint").textContent = "";
    if (!frame.text.trim()) {
      // An answerer with nothing to say: an empty suggestion box would read as still loading.
      $("suggestion").hidden = true;
      toast(ERROR_TEXTS.assist_failed, true);
      return;
    }
    $("suggestion-text").textContent = frame.text;
    $("suggestion-text").dataset.reply = withoutMarkers(frame.text, frame.citations);
    var sources = $("suggestion-sources");
    clear(sources);
    frame.citations.forEach(function (c) { sources.appendChild(sourceItem(c)); });
    $("suggestion").hidden = false;
  }

  /** The suggestion as a reply to the visitor: its "[n]" markers go, with the space before
   * them, since the sources they point at stay with the agent (under the suggestion). */
  function withoutMarkers(text, citations) {
    var cited = new Set(citations.map(function (c) { return String(c.n); }));
    return text.replace(/[ \t\u00a0]*\[(\d+)\]/g, function (marker, n) { return cited.has(n) ? "" : marker; });
  }

  function onResult(frame) {
    var callback = pendingRefs.get(frame.ref);
    pendingRefs.delete(frame.ref);
    state.unsent.delete(frame.ref);
    if (callback) callback(frame);
  }

  function onError(frame) {
    pendingRefs.delete(frame.ref);
    var unsent = state.unsent.get(frame.ref);
    state.unsent.delete(frame.ref);
    if (unsent) putBack(unsent);
    if (frame.action === "assist.request") $("composer-hint").textContent = "";
    var text = ERROR_TEXTS[frame.code];
    text = typeof text === "function" ? text(frame) : text || frame.message;
    if (frame.action === "tickets.search") $("search-status").textContent = text;
    // A link or a reload named a ticket outside the agent's teams: nothing stays selected.
    if (frame.action === "ticket.open" && frame.code === "not_found" && frame.ticket_id === state.selectedId) closeDetail();
    toast(text, true);
  }

  /* ---------- notifications ---------- */

  var audio = null;

  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.08, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.25);
    } catch (e) { /* no audio: the badge and title still show it */ }
  }

  function notify(title, body) {
    beep();
    if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
      new Notification(title, { body: body, tag: "csbot-console" });
    }
  }

  function setupNotifications() {
    var button = $("notify-enable");
    if (!("Notification" in window) || Notification.permission !== "default") return;
    button.hidden = false;
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function () { button.hidden = true; });
    });
  }

  /* ---------- queue ---------- */

  function inFilter(ticket, filter) {
    if (filter === "waiting") return ticket.status === "new";
    if (filter === "mine") return !!(state.me && ticket.assignee && ticket.assignee.id === state.me.id);
    return true;
  }

  /** Whether the ticket's visitor, email, subject or latest message holds what the search box
   *  holds, ignoring case. */
  function matchesSearch(ticket) {
    var words = state.search.trim().toLocaleLowerCase();
    if (!words) return true;
    return [visitorName(ticket), ticket.contact_email, ticket.subject, ticket.last_message].some(function (text) {
      return !!text && text.toLocaleLowerCase().indexOf(words) >= 0;
    });
  }

  function visibleTickets() {
    var list = Array.from(state.tickets.values()).filter(function (t) { return inFilter(t, state.filter) && matchesSearch(t); });
    list.sort(function (a, b) {
      var p = PRIORITY_ORDER[a.priority] - PRIORITY_ORDER[b.priority];
      return p !== 0 ? p : a.created_at.localeCompare(b.created_at);
    });
    return list;
  }

  function renderQueue() {
    ["waiting", "mine", "team"].forEach(function (f) {
      var count = Array.from(state.tickets.values()).filter(function (t) { return inFilter(t, f); }).length;
      document.querySelector('[data-count="' + f + '"]').textContent = count;
    });
    document.querySelectorAll(".tabs [data-filter]").forEach(function (tab) {
      tab.setAttribute("aria-selected", String(tab.dataset.filter === state.filter));
    });
    var tickets = visibleTickets();
    fillList($("ticket-list"), tickets);
    $("queue-empty").hidden = tickets.length > 0 || !!state.search.trim();
    $("queue-no-match").hidden = tickets.length > 0 || !state.search.trim();
    var waiting = Array.from(state.tickets.values()).filter(function (t) { return t.status === "new"; }).length;
    document.title = (waiting ? "(" + waiting + ") " : "") + gettext("Agent console") + " · csbot";
  }

  /** Rebuilt on every change: a keyboard user keeps the focus on the same ticket. */
  function fillList(list, tickets) {
    var focused = list.contains(document.activeElement) ? document.activeElement.dataset.ticketId : null;
    clear(list);
    tickets.forEach(function (t) { list.appendChild(ticketItem(t)); });
    if (focused) ticketNodeFocus(list, focused);
  }

  function ticketNodeFocus(list, ticketId) {
    var node = list.querySelector('[data-ticket-id="' + ticketId + '"]');
    if (node) node.focus();
  }

  function ticketItem(t) {
    var li = el("li");
    li.tabIndex = 0; // reached with Tab, opened with Enter or Space as with a click
    li.dataset.ticketId = t.id;
    li.setAttribute("aria-current", String(t.id === state.selectedId));
    var line1 = el("div", "line1");
    line1.appendChild(el("span", "who", visitorName(t)));
    line1.appendChild(el("span", "wait", since(t.created_at)));
    li.appendChild(line1);
    li.appendChild(el("div", "subject", t.subject || "—"));
    var tags = el("div", "tags");
    tags.appendChild(el("span", "badge", REASONS[t.reason] || t.reason));
    if (t.language) tags.appendChild(el("span", "badge", languageName(t.language)));
    if (t.channel === "message") tags.appendChild(el("span", "badge message", gettext("left a message")));
    if (t.priority === "high" || t.priority === "urgent") tags.appendChild(el("span", "badge " + t.priority, PRIORITIES[t.priority]));
    if (ended(t)) tags.appendChild(el("span", "badge", TICKET_STATUSES[t.status]));
    if (t.assignee) tags.appendChild(el("span", "badge agent", t.assignee.name));
    var due = dueState(t.first_response_due_at, t.first_responded_at);
    if (due && due.cls) tags.appendChild(el("span", "badge " + due.cls, due.text));
    var unread = state.unread.get(t.id);
    if (unread) tags.appendChild(el("span", "badge unread", interpolate(gettext("%(count)s new"), { count: unread }, true)));
    li.appendChild(tags);
    li.addEventListener("click", function () { select(t.id); });
    li.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" && event.key !== " ") return;
      event.preventDefault();
      select(t.id);
    });
    return li;
  }

  /* ---------- search: the queue at once, past tickets from the server ---------- */

  function onSearchInput() {
    state.search = $("search-text").value;
    // Results for other words than the box's are gone with them.
    if (state.found && state.found.query !== state.search.trim()) {
      state.found = null;
      $("search-status").textContent = "";
    }
    renderQueue();
    renderFound();
  }

  function searchPast(beforeId) {
    var query = state.search.trim();
    if (Array.from(query).length < SEARCH_MIN_CHARS) {
      $("search-status").textContent = gettext("Type at least two characters to search past tickets.");
      return;
    }
    var frame = { type: "tickets.search", query: query };
    if (beforeId) frame.before_id = beforeId;
    state.searchBefore = beforeId;
    if (send(frame)) $("search-status").textContent = gettext("Searching…");
  }

  function onFound(frame) {
    if (frame.query !== state.search.trim()) return; // the box changed meanwhile
    var more = state.searchBefore && state.found && state.found.query === frame.query;
    state.found = {
      query: frame.query,
      tickets: (more ? state.found.tickets : []).concat(frame.tickets),
      next_before_id: frame.next_before_id,
    };
    var moreHadFocus = document.activeElement === $("search-more");
    renderFound();
    // The button may be gone with the last page: the focus goes on to the first new ticket.
    if (more && moreHadFocus && frame.tickets.length) ticketNodeFocus($("search-list"), frame.tickets[0].id);
    var count = state.found.tickets.length;
    $("search-status").textContent = count ?
      interpolate(ngettext("%(count)s ticket found, newest first.", "%(count)s tickets found, newest first.", count), { count: count }, true) :
      gettext("No ticket found.");
  }

  /** The server's results, closed tickets too: each opens like a ticket of the queue. */
  function renderFound() {
    var found = state.found;
    $("search-results").hidden = !found;
    fillList($("search-list"), found ? found.tickets : []);
    $("search-more").hidden = !found || found.next_before_id === null;
  }

  function renderAgents() {
    var list = $("agent-list");
    clear(list);
    Array.from(state.agents.values()).forEach(function (a) {
      var li = el("li");
      var dot = el("span", "dot");
      dot.dataset.presence = a.presence;
      li.appendChild(dot);
      li.appendChild(el("span", "", a.name));
      li.appendChild(el("span", "hint", PRESENCES[a.presence] || a.presence));
      list.appendChild(li);
    });
  }

  function select(ticketId) {
    if (state.selectedId === ticketId) return;
    stopTyping();
    draftKeep();
    state.selectedId = ticketId;
    state.detail = null;
    state.viewers = [];
    renderViewers();
    draftRestore(ticketId);
    history.replaceState(null, "", "#ticket-" + ticketId);
    send({ type: "ticket.open", ticket_id: ticketId });
    renderQueue();
    renderFound();
  }

  function closeDetail() {
    // Colleagues stop seeing this console among the ticket's viewers.
    if (socket && socket.readyState === WebSocket.OPEN) send({ type: "ticket.leave", ticket_id: state.selectedId });
    state.viewers = [];
    renderViewers();
    draftKeep();
    draftRestore(null);
    history.replaceState(null, "", window.location.pathname + window.location.search);
    state.selectedId = null;
    state.detail = null;
    $("ticket-view").hidden = true;
    $("details").hidden = true;
    $("no-ticket").hidden = false;
  }

  function move(step) {
    var tickets = visibleTickets();
    if (!tickets.length) return;
    var index = tickets.findIndex(function (t) { return t.id === state.selectedId; });
    var next = index < 0 ? 0 : Math.min(tickets.length - 1, Math.max(0, index + step));
    var inList = $("ticket-list").contains(document.activeElement);
    select(tickets[next].id);
    var node = document.querySelector('[data-ticket-id="' + tickets[next].id + '"]');
    if (node) node.scrollIntoView({ block: "nearest" });
    if (inList) ticketNodeFocus($("ticket-list"), tickets[next].id);
  }

  /* ---------- conversation ---------- */

  function mine() {
    var t = state.detail && state.detail.ticket;
    return !!(t && state.me && t.assignee && t.assignee.id === state.me.id);
  }

  function ended(ticket) {
    return ticket.status === "solved" || ticket.status === "closed";
  }

  /** Only the assignee answers, and only while the ticket is active (a search finds ended ones). */
  function replyAllowed() {
    return mine() && !ended(state.detail.ticket);
  }

  function renderDetailHead() {
    var d = state.detail;
    if (!d) return;
    var t = d.ticket;
    $("ticket-title").textContent = "#" + t.id + " · " + visitorName(t);
    var sub = [REASONS[t.reason] || t.reason];
    if (t.detail) sub.push(detailText(t));
    sub.push(t.team ? t.team.name : gettext("no team"));
    sub.push(t.assignee ? interpolate(gettext("with %(name)s"), { name: t.assignee.name }, true) : gettext("unassigned"));
    $("ticket-sub").textContent = sub.join(" · ");
    var status = $("conversation-status");
    status.textContent = interpolate(gettext("conversation: %(status)s"), { status: CONVERSATION_STATUSES[d.conversation.status] || d.conversation.status }, true);
    status.className = "badge " + d.conversation.status;
    var claimable = t.status === "new" && !t.assignee;
    $("claim-banner").hidden = !claimable;
    // "now" reads badly inside the sentence ("已等待坐席 刚刚"): a ticket this fresh says so.
    $("claim-text").textContent = Date.now() - new Date(t.created_at).getTime() < 60000 ?
      gettext("Just came in, waiting for an agent.") :
      interpolate(gettext("Waiting %(time)s for an agent."), { time: since(t.created_at) }, true);
    var canReply = replyAllowed();
    $("composer-hint").textContent = state.mode === "reply" && !canReply ?
      (ended(t) ? ENDED_HINT :
        claimable ? gettext("Claim the ticket to reply.") : gettext("Only the assigned agent replies; notes are open to the team.")) : "";
    $("send").disabled = state.mode === "reply" && !canReply;
    // Its words change; its shortcut stays shown.
    document.querySelector('[data-action="pending"]').replaceChildren(
      t.status === "pending" ? gettext("Reopen") : gettext("Pending"), " ", el("kbd", "", "p"));
  }

  function sourceItem(citation) {
    var li = el("li");
    var url = safeUrl(citation.url || "");
    var label = "[" + citation.n + "] " + (citation.title || citation.url || "");
    if (url) {
      li.appendChild(link(url, label));
    } else {
      li.textContent = label;
    }
    return li;
  }

  function messageNode(m) {
    var li = el("li", "msg " + m.author + " " + m.state);
    var who = { visitor: visitorName(state.detail.ticket), bot: gettext("Bot"), agent: m.author_name || gettext("Agent"), system: "" }[m.author];
    var read = m.author === "agent" && m.seq <= state.detail.conversation.visitor_read_seq;
    if (m.author !== "system") li.appendChild(el("span", "meta", who + " · " + clock(m.created_at) + (m.state === "interrupted" ? " · " + gettext("interrupted") : "") + (read ? " · " + pgettext("the visitor saw the reply", "read") : "")));
    if (m.attachment) li.appendChild(attachmentNode(m.attachment));
    if (m.text || !m.attachment) li.appendChild(m.author === "bot" || m.author === "agent" ? rendered(m.text, m.citations || []) : textWithLinks(m.text));
    if (m.citations && m.citations.length) {
      var sources = el("ol", "sources");
      m.citations.forEach(function (c) { sources.appendChild(sourceItem(c)); });
      li.appendChild(sources);
    }
    return li;
  }

  /** A file sent with a message: an image as a thumbnail opening full size, a PDF as a chip
   * with its name and size. The name is text only (an attribute or a text node). */
  function attachmentNode(file) {
    var url = safeUrl(file.url);
    var a = link(url, "");
    a.className = "attachment";
    if (file.content_type.indexOf("image/") === 0) {
      var img = el("img");
      img.src = url;
      img.alt = file.name;
      if (file.width) { img.width = file.width; img.height = file.height; }
      // It grows the transcript once loaded: one read at its end stays there.
      img.addEventListener("load", function () {
        if (state.transcriptAtEnd) $("transcript").scrollTop = $("transcript").scrollHeight;
      });
      a.appendChild(img);
    } else {
      a.textContent = file.name + " · " + fileSize(file.size);
    }
    return a;
  }

  function fileSize(bytes) {
    if (bytes < 1024) return interpolate(gettext("%(n)s B"), { n: bytes }, true);
    if (bytes < 1048576) return interpolate(gettext("%(n)s KB"), { n: Math.round(bytes / 1024) }, true);
    return interpolate(gettext("%(n)s MB"), { n: (bytes / 1048576).toFixed(1) }, true);
  }

  // Web addresses in a message, up to a space or a closing bracket or quote; punctuation
  // ending a sentence is not part of one, nor is a ")" that closes no "(" of the address
  // (…/Lamp_(furniture) keeps its own, "(see https://…/a)" loses the sentence's).
  var LINK_IN_TEXT = /https?:\/\/[^\s<>"'）】」]+/g;
  var LINK_TRAILER = /[.,;:!?。，；：！？\]]+$/;

  function trimAddress(address) {
    for (;;) {
      var cut = address.replace(LINK_TRAILER, "");
      if (cut.slice(-1) === ")" && cut.split("(").length < cut.split(")").length) cut = cut.slice(0, -1);
      if (cut === address) return address;
      address = cut;
    }
  }

  /** A message's text, its web addresses links, in the direction its own script reads. */
  function textWithLinks(text) {
    var body = el("div", "body");
    body.dir = "auto";
    var shown = 0;
    Array.from(text.matchAll(LINK_IN_TEXT)).forEach(function (match) {
      var address = trimAddress(match[0]);
      var url = safeUrl(address);
      if (!url) return;
      body.appendChild(document.createTextNode(text.slice(shown, match.index)));
      body.appendChild(link(url, address));
      shown = match.index + address.length;
    });
    body.appendChild(document.createTextNode(text.slice(shown)));
    return body;
  }

  /** "[n]" in a bot's answer: a link to the source it cites, for the agent to check what the
   * bot quoted; text when the server sent no http(s) or relative address for it. */
  function citationLink(citation) {
    var url = safeUrl(citation.url || "");
    var label = "[" + citation.n + "]";
    if (!url) return label;
    var a = link(url, label);
    a.className = "cite";
    a.setAttribute("aria-label", interpolate(gettext("Source %(n)s: %(title)s"), { n: citation.n, title: citation.title || url }, true));
    return a;
  }

  /** A bot's or agent's message as the visitor's widget shows it: the widget's own markdown
   * renderer (loaded from csbot/widget.js with data-render-only), which builds DOM nodes, never
   * HTML. */
  function rendered(text, citations) {
    if (!window.csbotRender) return textWithLinks(text);
    var body = el("div", "body markdown");
    body.dir = "auto";
    var cites = new Map(citations.map(function (c) { return [c.n, c]; }));
    body.appendChild(window.csbotRender.markdown(text, { cites: cites, cite: citationLink }));
    return body;
  }

  function renderTranscript() {
    var list = $("transcript");
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    clear(list);
    var messages = Array.from(state.detail.messages.values()).sort(function (a, b) { return a.seq - b.seq; });
    messages.forEach(function (m) { list.appendChild(messageNode(m)); });
    if (atBottom || messages.length < 8) list.scrollTop = list.scrollHeight;
    state.transcriptAtEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  }

  function field(dl, label, value) {
    if (value === null || value === undefined || value === "") return;
    dl.appendChild(el("dt", "", label));
    dl.appendChild(el("dd", "", value));
  }

  function linkField(dl, label, url, text) {
    var href = url && safeUrl(url);
    if (!href) return;
    var dd = el("dd");
    dd.appendChild(link(href, text));
    dl.appendChild(el("dt", "", label));
    dl.appendChild(dd);
  }

  function renderFields() {
    var d = state.detail;
    if (!d) return;
    var t = d.ticket;
    var dl = $("ticket-fields");
    clear(dl);
    field(dl, gettext("Status"), TICKET_STATUSES[t.status] || t.status);
    field(dl, gettext("Channel"), t.channel === "message" ? gettext("left a message") : gettext("live chat"));
    field(dl, gettext("Site"), t.site.name);
    field(dl, gettext("Language"), languageName(t.language));
    field(dl, gettext("Opened"), new Date(t.created_at).toLocaleString(LOCALE));
    var first = dueState(t.first_response_due_at, t.first_responded_at);
    field(dl, gettext("First response"), t.first_responded_at ? interpolate(gettext("at %(time)s"), { time: clock(t.first_responded_at) }, true) : first && first.text);
    var resolution = t.status === "pending" ? { text: gettext("paused while waiting on the visitor") } : dueState(t.resolution_due_at, t.solved_at);
    field(dl, gettext("Resolution"), resolution && resolution.text);
    $("priority").value = t.priority;
    if (document.activeElement !== $("tags")) $("tags").value = t.tags.join(", ");
    var v = d.visitor;
    var vl = $("visitor-fields");
    clear(vl);
    field(vl, gettext("Name"), v.name || visitorName(t));
    field(vl, gettext("Email"), v.email || t.contact_email);
    field(vl, gettext("User id"), v.external_id);
    linkField(vl, gettext("Page"), v.page && v.page.url, v.page && (v.page.title || v.page.url));
    field(vl, gettext("Language"), languageName(v.language));
    field(vl, gettext("First seen"), new Date(v.created_at).toLocaleString(LOCALE));
    field(vl, gettext("Last seen"), v.last_seen_at && new Date(v.last_seen_at).toLocaleString(LOCALE));
    field(vl, gettext("Conversations"), String(v.conversations));
    if (v.previous_tickets.length) {
      field(vl, gettext("Earlier tickets"), v.previous_tickets.map(function (p) { return "#" + p.id + " " + p.subject + " (" + (TICKET_STATUSES[p.status] || p.status) + ")"; }).join("\n"));
    }
    var active = t.status === "new" || t.status === "open" || t.status === "pending";
    // The server refuses these to all but the assignee and superusers (not_assignee).
    var colleagues = !!(t.assignee && !mine() && !(state.me && state.me.superuser));
    document.querySelectorAll("[data-action]").forEach(function (b) { b.disabled = (!active || colleagues) && !b.dataset.always; });
    var actionsHint = $("actions-hint");
    actionsHint.hidden = !(active && colleagues);
    actionsHint.textContent = actionsHint.hidden ? "" : interpolate(gettext("%(name)s is handling this ticket."), { name: t.assignee.name }, true);
    var faqLink = $("faq-link");
    faqLink.hidden = !t.faq_id;
    faqLink.textContent = t.faq_id ? interpolate(gettext("Draft FAQ entry #%(id)s waits for an admin."), { id: t.faq_id }, true) : "";
    $("priority").disabled = $("tags").disabled = !active;
  }

  function renderNotes() {
    var list = $("notes");
    clear(list);
    state.detail.notes.forEach(function (n) {
      var li = el("li", "", n.text);
      li.insertBefore(el("span", "meta", (n.author ? n.author.name : "—") + " · " + clock(n.created_at)), li.firstChild);
      list.appendChild(li);
    });
    if (!state.detail.notes.length) list.appendChild(el("li", "hint", gettext("No notes yet. Notes are never shown to the visitor.")));
  }

  function renderHistory() {
    var list = $("history");
    clear(list);
    state.detail.events.forEach(function (e) {
      var li = el("li", "", HISTORY[e.kind] || e.kind.replace("handoff.", "").replace(/_/g, " "));
      var extra = [];
      if (e.data.reason) extra.push(REASONS[e.data.reason] || e.data.reason);
      if (e.data.detail) extra.push(detailText(e.data));
      if (e.data.via) extra.push(VIA[e.data.via] || e.data.via.replace(/_/g, " "));
      if (e.actor) extra.push(interpolate(gettext("by %(name)s"), { name: e.actor.name }, true));
      else if (e.data.by) extra.push(interpolate(gettext("by %(name)s"), { name: ACTORS[e.data.by] || e.data.by }, true));
      li.appendChild(el("span", "meta", clock(e.created_at) + (extra.length ? " · " + extra.join(" · ") : "")));
      list.appendChild(li);
    });
  }

  /* ---------- composer ---------- */

  function setMode(mode) {
    state.mode = mode;
    $("composer").classList.toggle("note", mode === "note");
    // A file always goes to the visitor: none is offered beside a note only agents should see.
    $("attach").hidden = mode !== "reply";
    document.querySelectorAll(".composer-tabs [data-mode]").forEach(function (tab) {
      tab.setAttribute("aria-selected", String(tab.dataset.mode === mode));
    });
    $("composer-text").placeholder = mode === "note" ? gettext("Internal note — only agents see this") : gettext("Reply to the visitor — type / for canned replies");
    countComposer();
    renderDetailHead();
  }

  function submit() {
    var text = $("composer-text").value;
    if (!text.trim() || !state.detail) return;
    var ticketId = state.detail.ticket.id;
    var type = state.mode === "note" ? "note.add" : "message.send";
    if (type === "message.send" && !replyAllowed()) {
      toast(ended(state.detail.ticket) ? ENDED_HINT : state.detail.ticket.assignee ? gettext("Only the assigned agent replies; notes are open to the team.") : gettext("Claim the ticket before replying."), true);
      return;
    }
    if (countComposer()) { toast(gettext("Too long to send: shorten it first."), true); return; }
    stopTyping();
    // Cleared at once so a second Enter cannot send it twice; an error puts it back.
    var ref = send({ type: type, ticket_id: ticketId, text: text });
    if (ref) {
      $("composer-text").value = "";
      draftSave(ticketId, null);
      state.unsent.set(ref, { ticketId: ticketId, text: text, mode: state.mode });
      expectAnswer();
    }
  }

  // The server's refusals of a file, in the agent's language (apps/chat/attachments.py).
  // The upload's own error codes (docs/protocol.md, attachments); the ticket's (not_found,
  // not_assignee, unavailable …) read as on the socket, from ERROR_TEXTS.
  var FILE_ERRORS = {
    file_type_not_allowed: gettext("Only images (PNG, JPEG, GIF, WebP) and PDF files can be sent."),
    file_too_large: gettext("This file is too large to send."),
    file_empty: gettext("This file is empty."),
    csrf_failed: gettext("This page's security token expired: reload the page, then send the file again."),
    forbidden: gettext("Sign in as an agent to send files."),
    conversation_changed: gettext("The conversation is not with you any more."),
  };

  function uploadErrorText(error, status) {
    // A proxy refuses a body over its limit with its own page, not our JSON.
    var code = error.code || (status === 413 ? "file_too_large" : "");
    var known = FILE_ERRORS[code] || ERROR_TEXTS[code];
    return typeof known === "string" ? known : error.message || gettext("The file could not be sent.");
  }

  // The last upload not known to have been stored or refused: its key and client_id.
  var lastUpload = null;

  function uploadId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "up-" + Array.from(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  /** Send ``file`` to the visitor as the assignee's reply, with the box's text as its caption. */
  function attach(file) {
    // A picker opened before the switch to a note must not send the note's file to the visitor.
    if (state.mode !== "reply") return;
    if (!state.detail || !replyAllowed()) {
      toast(gettext("Claim the ticket before replying."), true);
      return;
    }
    var ticketId = state.detail.ticket.id;
    var box = $("composer-text");
    var caption = box.value.trim();
    var form = new FormData();
    form.append("file", file);
    form.append("name", file.name);
    form.append("caption", caption);
    // The same file sent again to the same ticket after a failure keeps its id: if the first
    // try was stored and only its answer lost, the server answers with that reply, not a second.
    var key = [ticketId, file.name, file.size, file.lastModified, caption].join("\n");
    if (!lastUpload || lastUpload.key !== key) lastUpload = { key: key, clientId: uploadId() };
    form.append("client_id", lastUpload.clientId);
    var token = document.querySelector("[name=csrfmiddlewaretoken]");
    $("composer-hint").textContent = interpolate(gettext("Sending %(name)s…"), { name: file.name }, true);
    // One file at a time: a second click while it uploads would send a second reply.
    $("attach").disabled = true;
    fetch("/api/console/tickets/" + ticketId + "/attachments", {
      method: "POST",
      body: form,
      credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "" },
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        $("composer-hint").textContent = "";
        $("attach").disabled = false;
        // Answered: stored (a retry of it is a duplicate) or refused (sending it again is
        // a new try); only a lost answer or a 5xx keeps the id for the retry.
        if (response.status < 500) lastUpload = null;
        if (response.ok) {
          // The caption went with the file; the message itself comes over the socket.
          if (caption && box.value.trim() === caption && state.selectedId === ticketId) {
            box.value = "";
            draftKeep();
          }
          return;
        }
        toast(uploadErrorText(body.error || {}, response.status), true);
      });
    }).catch(function () {
      $("composer-hint").textContent = "";
      $("attach").disabled = false;
      toast(gettext("The file could not be sent."), true);
    });
  }

  /* ---------- drafts: one per ticket, kept in this tab across reloads ---------- */

  // One shared box would carry what was typed for one visitor to the next ticket opened.
  // Per agent: the tab's storage outlives signing out, and the next agent at a shared desk
  // must not find the last one's drafts.
  function draftsKey() {
    return DRAFTS_KEY + "." + (state.me ? state.me.id : "");
  }

  function draftsLoad() {
    return storageGet(draftsKey()) || {};
  }

  function draftSave(ticketId, draft) {
    var drafts = draftsLoad();
    if (draft && draft.text) drafts[ticketId] = draft;
    else delete drafts[ticketId];
    storageSet(draftsKey(), drafts);
  }

  // This tab's drafts and queue tab, in sessionStorage. Without storage (off, full) they
  // last until the page reloads.
  function storageGet(key) {
    try { return JSON.parse(window.sessionStorage.getItem(key)); } catch (e) { return null; }
  }

  function storageSet(key, value) {
    try { window.sessionStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* see above */ }
  }

  function draftKeep() {
    countComposer();
    if (state.selectedId === null) return;
    // A ticket gone from the queue (solved, closed, erased with its visitor) keeps no draft.
    var open = state.tickets.has(state.selectedId);
    draftSave(state.selectedId, open ? { text: $("composer-text").value, mode: state.mode } : null);
  }

  function draftRestore(ticketId) {
    var draft = ticketId === null ? null : draftsLoad()[ticketId];
    setMode(draft ? draft.mode : "reply");
    $("composer-text").value = draft ? draft.text : "";
    countComposer();
  }

  /** Show the length near the server's limit for the mode (apps/handoff/protocol.py counts
   * code points, as Array.from does); return whether the text is over it. */
  function countComposer() {
    var limit = Number(document.body.dataset[state.mode === "note" ? "maxNote" : "maxReply"]);
    var count = Array.from($("composer-text").value).length;
    var counter = $("composer-count");
    counter.hidden = count < limit * 0.9;
    counter.textContent = interpolate(gettext("%(count)s / %(max)s characters"), { count: count, max: limit }, true);
    counter.classList.toggle("over", count > limit);
    return count > limit;
  }

  // A send the server refused goes back where it was typed, never into another ticket's box.
  function putBack(unsent) {
    // Ahead of anything typed since: nothing the agent wrote is dropped.
    if (unsent.ticketId === state.selectedId) {
      var box = $("composer-text");
      setMode(unsent.mode);
      box.value = box.value ? unsent.text + "\n\n" + box.value : unsent.text;
      draftKeep();
    } else {
      var draft = draftsLoad()[unsent.ticketId];
      var text = draft && draft.text ? unsent.text + "\n\n" + draft.text : unsent.text;
      draftSave(unsent.ticketId, { text: text, mode: unsent.mode });
    }
  }

  function sendTyping(active) {
    if (!state.detail || !replyAllowed() || state.mode !== "reply") return;
    send({ type: "typing", ticket_id: state.detail.ticket.id, active: active });
  }

  function onComposerInput() {
    draftKeep();
    updateCanned();
    if (state.mode !== "reply") return;
    var now = Date.now();
    if (now - state.typingSentAt > TYPING_IDLE_MS - 1000) {
      sendTyping(true);
      state.typingSentAt = now;
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(state.typingTimer);
    if (state.typingSentAt) {
      sendTyping(false);
      state.typingSentAt = 0;
    }
  }

  function updateCanned() {
    var menu = $("canned-menu");
    var value = $("composer-text").value;
    var match = /^\/(\S*)$/.exec(value);
    if (!match || !state.detail) { menu.hidden = true; state.cannedChoices = []; return; }
    var ticket = state.detail.ticket;
    var prefix = match[1].toLowerCase();
    state.cannedChoices = state.canned.filter(function (c) {
      return c.site_id === ticket.site.id && c.shortcut.toLowerCase().indexOf(prefix) === 0 &&
        (!c.language || c.language === ticket.language);
    });
    state.cannedIndex = 0;
    clear(menu);
    state.cannedChoices.forEach(function (c, i) {
      var li = el("li");
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", String(i === 0));
      li.appendChild(el("span", "shortcut", "/" + c.shortcut + (c.language ? " · " + languageName(c.language) : "")));
      li.appendChild(el("span", "", c.title));
      li.appendChild(el("span", "preview", c.text));
      li.addEventListener("mousedown", function (event) { event.preventDefault(); insertCanned(i); });
      menu.appendChild(li);
    });
    menu.hidden = state.cannedChoices.length === 0;
  }

  function moveCanned(step) {
    var items = $("canned-menu").children;
    state.cannedIndex = (state.cannedIndex + step + items.length) % items.length;
    Array.from(items).forEach(function (li, i) { li.setAttribute("aria-selected", String(i === state.cannedIndex)); });
    items[state.cannedIndex].scrollIntoView({ block: "nearest" });
  }

  function insertCanned(index) {
    var choice = state.cannedChoices[index];
    if (!choice) return;
    var visitor = state.detail.visitor.name || "";
    // Without a name "Hi {visitor}, …" reads "Hi, …" rather than greeting a placeholder.
    var text = visitor ? choice.text.split("{visitor}").join(visitor) : choice.text.replace(/ ?\{visitor\}/g, "");
    $("composer-text").value = text.split("{agent}").join(state.me.name);
    draftKeep();
    $("canned-menu").hidden = true;
    state.cannedChoices = [];
    $("composer-text").focus();
  }

  /* ---------- actions ---------- */

  function confirmThen(text, action) {
    var dialog = $("confirm-dialog");
    $("confirm-text").textContent = text;
    dialog.returnValue = "";
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue === "ok") action();
    });
    dialog.showModal();
  }

  function ticketAction(type, extra) {
    if (!state.detail) return;
    var frame = Object.assign({ type: type, ticket_id: state.detail.ticket.id }, extra || {});
    send(frame, RESULT_TOASTS[type]);
  }

  // The server's error codes (docs/handoff.md §6) in the agent's language; others as sent.
  var ERROR_TEXTS = {
    too_long: gettext("Too long to send: shorten it first."),
    not_found: gettext("This ticket is not in your teams any more."),
    not_claimable: gettext("This ticket is no longer waiting."),
    not_assignee: function (frame) {
      return frame.holder ? interpolate(gettext("%(name)s is handling this ticket."), { name: frame.holder }, true) : gettext("Claim the ticket before replying.");
    },
    not_owner: gettext("The conversation is not with you any more."),
    changed: gettext("The ticket changed meanwhile; look again."),
    unavailable: gettext("The server could not do this now; try again in a moment."),
    no_question: gettext("The visitor has not asked a question yet: there is nothing to suggest."),
    no_knowledge: gettext("The knowledge base has nothing for this question: there is nothing to suggest."),
    assist_failed: gettext("No suggestion could be made; write the reply yourself."),
    bad_transfer: gettext("It cannot go there: pick a team of this site or an agent of the ticket's team."),
    bad_priority: gettext("That priority does not exist: pick one from the list."),
    no_collection: gettext("This site has no knowledge collection yet: an admin creates one first."),
    rate_limited: gettext("Too many searches: wait a minute and try again."),
    agent_offline: function (frame) {
      return interpolate(gettext("%(name)s is not online: transfer to a colleague who is, or to the team."), { name: frame.agent }, true);
    },
    taken: function (frame) {
      return interpolate(gettext("%(name)s already took this ticket."), { name: frame.holder }, true);
    },
  };

  var RESULT_TOASTS = {
    "faq.promote": function (frame) { toast(interpolate(gettext("Saved as draft FAQ entry #%(id)s for an admin to publish."), { id: frame.faq_id }, true)); },
    "ticket.transfer": function () { toast(gettext("Transferred.")); },
  };

  function claim() {
    if (!state.detail) return;
    state.claiming.add(state.detail.ticket.id);
    send({ type: "ticket.claim", ticket_id: state.detail.ticket.id }, function () {
      toast(gettext("You have the ticket. The visitor is told you joined."));
      setMode("reply");
      $("composer-text").focus();
    });
  }

  function runAction(action) {
    var button = document.querySelector('[data-action="' + action + '"]');
    if (!state.detail || (button && button.disabled)) return;
    var t = state.detail.ticket;
    var id = t.id;
    // A superuser may end a ticket a colleague is working on; doing so should be deliberate.
    var theirs = t.assignee && !mine() ? interpolate(gettext("%(name)s is handling this ticket."), { name: t.assignee.name }, true) + " " : "";
    if (action === "hand_back") {
      confirmThen(theirs + interpolate(gettext("Hand ticket #%(id)s back to the bot? The ticket is solved and the bot answers again."), { id: id }, true), function () { ticketAction("ticket.hand_back"); });
    } else if (action === "solve") {
      confirmThen(theirs + interpolate(gettext("Solve ticket #%(id)s? The conversation closes; the visitor's next message starts a new one."), { id: id }, true), function () { ticketAction("ticket.solve"); });
    } else if (action === "close") {
      confirmThen(theirs + interpolate(gettext("Close ticket #%(id)s without solving it (spam, duplicate)?"), { id: id }, true), function () { ticketAction("ticket.close"); });
    } else if (action === "pending") {
      ticketAction("ticket.update", { pending: state.detail.ticket.status !== "pending" });
    } else if (action === "transfer") {
      openTransfer();
    } else if (action === "faq") {
      openFaq();
    }
  }

  function lastText(author) {
    var messages = Array.from(state.detail.messages.values()).sort(function (a, b) { return b.seq - a.seq; });
    var found = messages.find(function (m) { return m.author === author && m.text; });
    return found ? found.text : "";
  }

  function openFaq() {
    $("faq-question").value = state.detail.ticket.subject || lastText("visitor");
    $("faq-answer").value = lastText("agent");
    var dialog = $("faq-dialog");
    dialog.returnValue = "";
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue !== "ok") return;
      ticketAction("faq.promote", { question: $("faq-question").value, answer: $("faq-answer").value });
    });
    dialog.showModal();
  }

  function option(select, value, label) {
    var node = el("option", "", label);
    node.value = value;
    select.appendChild(node);
    return node;
  }

  function openTransfer() {
    var t = state.detail.ticket;
    var agents = $("transfer-agent");
    var teams = $("transfer-team");
    clear(agents);
    clear(teams);
    option(agents, "", "—");
    option(teams, "", "—");
    state.agents.forEach(function (a) {
      if (t.team && a.team_ids.indexOf(t.team.id) >= 0 && (!t.assignee || a.id !== t.assignee.id)) {
        // Only an agent who is online can take it (the server refuses the others).
        option(agents, a.id, a.name + " (" + (PRESENCES[a.presence] || a.presence) + ")").disabled = a.presence !== "online";
      }
    });
    state.teams.forEach(function (team) {
      if (team.site_id === t.site.id && (!t.team || team.id !== t.team.id)) option(teams, team.id, team.name);
    });
    var dialog = $("transfer-dialog");
    dialog.returnValue = "";
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue !== "ok") return;
      if (agents.value) ticketAction("ticket.transfer", { agent_id: Number(agents.value) });
      else if (teams.value) ticketAction("ticket.transfer", { team_id: Number(teams.value) });
    });
    dialog.showModal();
  }

  function askSuggestion() {
    if (!state.detail) return;
    $("composer-hint").textContent = gettext("Asking the bot for a suggestion…");
    ticketAction("assist.request");
  }

  /* ---------- keyboard ---------- */

  function typingInto(target) {
    return target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.tagName === "SELECT");
  }

  function onComposerKey(event) {
    var menuOpen = !$("canned-menu").hidden && state.cannedChoices.length > 0;
    if (event.isComposing || event.keyCode === 229) return; // an IME is composing Chinese
    if (menuOpen && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      moveCanned(event.key === "ArrowDown" ? 1 : -1);
    } else if (menuOpen && (event.key === "Enter" || event.key === "Tab")) {
      event.preventDefault();
      insertCanned(state.cannedIndex);
    } else if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      submit();
    } else if (event.key === "Escape") {
      if (menuOpen) $("canned-menu").hidden = true;
      else event.target.blur();
    }
  }

  var KEYS = {
    j: function () { move(1); },
    ArrowDown: function () { move(1); },
    k: function () { move(-1); },
    ArrowUp: function () { move(-1); },
    "1": function () { setFilter("waiting"); },
    "2": function () { setFilter("mine"); },
    "3": function () { setFilter("team"); },
    c: claim,
    r: function () { setMode("reply"); $("composer-text").focus(); },
    n: function () { setMode("note"); $("composer-text").focus(); },
    // As on most sites; canned replies are a "/" typed in the reply box (r, then /).
    "/": function () { $("search-text").focus(); $("search-text").select(); },
    a: askSuggestion,
    h: function () { runAction("hand_back"); },
    t: function () { runAction("transfer"); },
    p: function () { runAction("pending"); },
    s: function () { runAction("solve"); },
    x: function () { runAction("close"); },
    f: function () { runAction("faq"); },
    "?": function () { $("help-dialog").showModal(); },
  };

  function onKey(event) {
    if (document.querySelector("dialog[open]")) return;
    if (audio && audio.state === "suspended") audio.resume();
    if (typingInto(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    // Arrows on a focused control belong to it (a button, a tab): only j and k move from there.
    var arrow = event.key === "ArrowDown" || event.key === "ArrowUp";
    if (arrow && event.target.closest && event.target.closest("button, a, [role=tab], summary")) return;
    var handler = KEYS[event.key];
    if (!handler) return;
    var needsTicket = "crnahtpsxf".indexOf(event.key) >= 0;
    if (needsTicket && !state.detail) return;
    event.preventDefault();
    handler();
  }

  function setFilter(filter) {
    state.filter = filter;
    storageSet(FILTER_KEY, filter);
    renderQueue();
  }

  /* ---------- wiring ---------- */

  function init() {
    document.addEventListener("keydown", onKey);
    document.querySelectorAll(".tabs [data-filter]").forEach(function (tab) {
      tab.addEventListener("click", function () { setFilter(tab.dataset.filter); });
    });
    document.querySelectorAll(".composer-tabs [data-mode]").forEach(function (tab) {
      tab.addEventListener("click", function () { setMode(tab.dataset.mode); $("composer-text").focus(); });
    });
    document.querySelectorAll("[data-action]").forEach(function (button) {
      button.addEventListener("click", function () { runAction(button.dataset.action); });
    });
    $("composer").addEventListener("submit", function (event) { event.preventDefault(); submit(); });
    $("attach").addEventListener("click", function () { $("attach-file").click(); });
    $("transcript").addEventListener("scroll", function () {
      var list = $("transcript");
      state.transcriptAtEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    });
    $("attach-file").addEventListener("change", function () {
      Array.from(this.files).forEach(attach);
      this.value = "";
    });
    $("search-text").addEventListener("input", onSearchInput);
    $("queue-search").addEventListener("submit", function (event) { event.preventDefault(); searchPast(null); });
    $("search-more").addEventListener("click", function () { searchPast(state.found && state.found.next_before_id); });
    $("composer-text").addEventListener("keydown", onComposerKey);
    $("composer-text").addEventListener("input", onComposerInput);
    $("composer-text").addEventListener("blur", function () { $("canned-menu").hidden = true; });
    $("claim").addEventListener("click", claim);
    $("assist").addEventListener("click", askSuggestion);
    $("suggestion-use").addEventListener("click", function () {
      setMode("reply");
      $("composer-text").value = $("suggestion-text").dataset.reply;
      draftKeep();
      $("suggestion").hidden = true;
      $("composer-text").focus();
    });
    $("suggestion-dismiss").addEventListener("click", function () { $("suggestion").hidden = true; });
    $("help-open").addEventListener("click", function () { $("help-dialog").showModal(); });
    $("language").addEventListener("change", function (event) {
      // The open ticket, drafts and tab come back after the reload (the address and this tab's
      // storage); the server never sees the address's #ticket- part unless it is sent along.
      draftKeep();
      event.target.form.elements.next.value = window.location.pathname + window.location.hash;
      event.target.form.submit();
    });
    $("availability").addEventListener("change", function (event) {
      send({ type: "presence.set", availability: event.target.value });
    });
    $("priority").addEventListener("change", function (event) {
      ticketAction("ticket.update", { priority: event.target.value });
    });
    $("tags").addEventListener("change", function (event) {
      var tags = event.target.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      ticketAction("ticket.update", { tags: tags });
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && state.detail) { markSeen(); renderQueue(); }
    });
    // Waiting times and SLA badges age without any event.
    setInterval(function () { renderQueue(); if (state.detail) { renderDetailHead(); renderFields(); } }, 30000);
    setupNotifications();
    setMode("reply");
    var filter = storageGet(FILTER_KEY);
    document.querySelectorAll(".tabs [data-filter]").forEach(function (tab) {
      if (tab.dataset.filter === filter) state.filter = filter; // only a tab that exists
    });
    var linked = TICKET_HASH.exec(window.location.hash);
    if (linked) state.restoreId = Number(linked[1]);
    // A link to another ticket (#ticket-12, from a teammate or a notification) opens it here,
    // an ended one too (read-only), as after a reload.
    window.addEventListener("hashchange", function () {
      var target = TICKET_HASH.exec(window.location.hash);
      if (!target) return;
      if (state.me) select(Number(target[1]));
      else state.restoreId = Number(target[1]); // before the queue is in: opened with it
    });
    connect();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
