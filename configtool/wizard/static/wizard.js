// Live checks for the wizard's step forms: on a change, send the form to the step's check
// endpoint and show the answer beside each field. The forms work without this script.
(function () {
  "use strict";
  var form = document.getElementById("stepform");
  if (!form || !window.fetch || !window.FormData) {
    return;
  }
  var live = document.getElementById("live");
  var timer = null;
  var pending = null;

  var kinds = [["errors", "error", "Problem"], ["failed", "failed", "Check failed"], ["passed", "passed", "Checked"], ["skipped", "skipped", "Skipped"]];

  function fill(list, msgs) {
    if (!list) {
      return;
    }
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    kinds.forEach(function (k) {
      (msgs[k[0]] || []).forEach(function (text) {
        var li = document.createElement("li");
        li.className = k[1];
        var tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = k[2];
        li.appendChild(tag);
        li.appendChild(document.createTextNode(" " + text));
        list.appendChild(li);
      });
    });
  }

  function show(res) {
    Object.keys(res.fields || {}).forEach(function (id) {
      var msgs = res.fields[id];
      fill(document.getElementById(id + "-msg"), msgs);
      var input = document.getElementById(id);
      if (input && input.matches("input, select, textarea")) {
        if ((msgs.errors || []).length) {
          input.setAttribute("aria-invalid", "true");
        } else {
          input.removeAttribute("aria-invalid");
        }
      }
    });
    fill(document.getElementById("general-msg"), res.general || {});
    var others = document.getElementById("others");
    if (others) {
      while (others.firstChild) {
        others.removeChild(others.firstChild);
      }
      if ((res.others || []).length) {
        var p = document.createElement("p");
        p.textContent = "Other steps have problems (they do not keep you on this one):";
        var ul = document.createElement("ul");
        ul.className = "others";
        res.others.forEach(function (text) {
          var li = document.createElement("li");
          li.textContent = text;
          ul.appendChild(li);
        });
        others.appendChild(p);
        others.appendChild(ul);
      }
    }
    if (live) {
      live.textContent = res.blocked ? "Checked: this step has problems." : "Checked: no problems in this step.";
    }
  }

  function check() {
    if (pending) {
      pending.abort();
    }
    pending = new AbortController();
    var data = new FormData(form);
    data.set("action", "check");
    if (live) {
      live.textContent = "Checking…";
    }
    fetch(form.getAttribute("data-check"), {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
      signal: pending.signal
    }).then(function (r) {
      if (!r.ok) {
        return r.text().then(function (t) { throw new Error(t || ("HTTP " + r.status)); });
      }
      return r.json();
    }).then(show, function (err) {
      if (err && err.name === "AbortError") {
        return;
      }
      if (live) {
        live.textContent = "Live check unavailable (" + err.message + "); Next still checks the step.";
      }
    });
  }

  form.addEventListener("change", function (e) {
    if (e.target && e.target.type === "file") {
      return; // files are sent with Next; sending a key on every change is not needed
    }
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  });
})();
