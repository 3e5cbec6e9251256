// The console's only script, and optional: pages are complete without it. It follows the
// live region (#live) and a function's log (#log) over server-sent events, and submits
// the invoke form in place. The server escapes every string in the HTML it sends; log
// lines arrive as JSON and are only ever set as text.
(function () {
  "use strict";

  // Streams are closed as the page goes (browsers allow few connections per host, and a
  // page kept for going back would hold its streams open); such a page, shown again, is
  // reloaded to follow again.
  var streams = [];
  window.addEventListener("pagehide", function () {
    streams.forEach(function (s) {
      s.close();
    });
    streams = [];
  });
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) {
      window.location.reload();
    }
  });

  function open(url) {
    var events = new EventSource(url);
    streams.push(events);
    return events;
  }

  function followLive(region) {
    var url = region.getAttribute("data-stream");
    if (!url || !window.EventSource) {
      return;
    }
    var events = open(url);
    events.addEventListener("update", function (e) {
      region.innerHTML = e.data;
    });
  }

  function followLog(list) {
    var url = list.getAttribute("data-stream");
    if (!url || !window.EventSource) {
      return;
    }
    var events = open(url);
    events.addEventListener("log", function (e) {
      JSON.parse(e.data).forEach(function (line) {
        var item = document.createElement("li");
        var time = document.createElement("time");
        time.textContent = line.time;
        var msg = document.createElement("span");
        msg.className = "msg";
        msg.textContent = line.message;
        item.appendChild(time);
        item.appendChild(document.createTextNode(" "));
        item.appendChild(msg);
        list.appendChild(item);
      });
      list.scrollTop = list.scrollHeight;
    });
  }

  function show(out, ok, headline, payload) {
    out.textContent = "";
    var p = document.createElement("p");
    p.className = ok ? "good" : "bad";
    p.textContent = headline;
    var pre = document.createElement("pre");
    pre.className = "payload";
    pre.textContent = payload;
    out.appendChild(p);
    out.appendChild(pre);
  }

  function invokeInPlace(form) {
    var out = document.getElementById("invoke-result");
    var button = document.getElementById("invoke-button");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      button.disabled = true;
      out.textContent = "Invoking…";
      fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Accept": "application/json" },
        body: new URLSearchParams(new FormData(form))
      }).then(function (r) {
        return r.json();
      }).then(function (r) {
        if (r.error_code) {
          show(out, false, "Refused: " + r.error_code, r.payload);
        } else if (r.function_error) {
          show(out, false, "Function error (" + r.function_error + ")", r.payload);
        } else {
          show(out, true, "Succeeded (status " + r.status + ", version " + r.executed_version + ")", r.payload);
        }
      }).catch(function (e) {
        show(out, false, "The console could not invoke the function", String(e));
      }).then(function () {
        button.disabled = false;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.getElementById("live");
    if (live) {
      followLive(live);
    }
    var log = document.getElementById("log");
    if (log) {
      followLog(log);
    }
    var form = document.getElementById("invoke-form");
    if (form && window.fetch) {
      invokeInPlace(form);
    }
  });
})();
