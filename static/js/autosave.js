// Autosave safety for the dossier forms: keep what was typed on this device until the
// server has stored it, warn when a save fails, and retry when the connection is back.
// Keys hold the dossier id, topic and field name only, never personal data.
(function () {
  "use strict";

  var PREFIX = "wd-dossier:";
  // Carried from htmx:beforeSwap to htmx:afterSwap: what changed while a save was on its way.
  var carry = null;

  function isAutosaveForm(el) {
    return !!(el && el.matches && el.matches("form[data-autosave]"));
  }

  function formKey(form) {
    return PREFIX + form.dataset.autosave + ":";
  }

  function storage() {
    try {
      return window.localStorage;
    } catch (e) {
      return null;
    }
  }

  function banner(show) {
    document.querySelectorAll("[data-offline-banner]").forEach(function (el) {
      el.hidden = !show;
    });
  }

  function valueOf(field) {
    return field.type === "checkbox" ? (field.checked ? "on" : "") : field.value;
  }

  function apply(form, name, value) {
    var fields = form.elements.namedItem(name);
    if (!fields) return;
    if (fields instanceof RadioNodeList) {
      Array.prototype.forEach.call(fields, function (el) {
        if (el.type === "radio") el.checked = el.value === value;
        else el.value = value;
      });
    } else if (fields.type === "checkbox") {
      fields.checked = value === "on";
    } else {
      fields.value = value;
    }
  }

  function remember(event) {
    var field = event.target;
    var form = field.form;
    if (!isAutosaveForm(form) || !field.name) return;
    if (field.type === "hidden" || field.type === "submit") return;
    if (field.type === "radio" && !field.checked) return;
    var value = valueOf(field);
    if (form.wdInFlight) form.wdDirty[field.name] = value;
    var store = storage();
    if (store) store.setItem(formKey(form) + field.name, value);
  }

  function pending(form) {
    var store = storage();
    var keys = [];
    if (!store) return keys;
    var prefix = formKey(form);
    for (var i = 0; i < store.length; i++) {
      var key = store.key(i);
      if (key && key.indexOf(prefix) === 0) keys.push(key);
    }
    return keys;
  }

  function clear(form, keep) {
    var store = storage();
    if (!store) return;
    var prefix = formKey(form);
    pending(form).forEach(function (key) {
      if (!(key.slice(prefix.length) in keep)) store.removeItem(key);
    });
  }

  // Put back what was typed but not stored (after a lost connection or a closed tab).
  function restore(form) {
    var store = storage();
    var keys = pending(form);
    if (!store || !keys.length) return false;
    var prefix = formKey(form);
    keys.forEach(function (key) {
      apply(form, key.slice(prefix.length), store.getItem(key));
    });
    return true;
  }

  function retryAll() {
    document.querySelectorAll("form[data-autosave]").forEach(function (form) {
      if (pending(form).length && window.htmx) window.htmx.trigger(form, "wd-retry");
    });
  }

  function setup() {
    document.querySelectorAll("form[data-autosave]").forEach(function (form) {
      if (form.dataset.autosaveReady) return;
      form.dataset.autosaveReady = "1";
      form.addEventListener("input", remember);
      form.addEventListener("change", remember);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setup();
    var restored = false;
    document.querySelectorAll("form[data-autosave]").forEach(function (form) {
      restored = restore(form) || restored;
    });
    if (restored && navigator.onLine) retryAll();
  });

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (!isAutosaveForm(form)) return;
    form.wdInFlight = true;
    form.wdDirty = {};
  });

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    var form = event.detail.elt;
    // A conflict (409) or a refused answer (422) comes with the form to show: swap it in.
    if (status === 409 || status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
    if (!isAutosaveForm(form)) return;
    var dirty = form.wdDirty || {};
    form.wdInFlight = false;
    // Only a 2xx means the answers are stored; what was typed meanwhile stays kept.
    if (status >= 200 && status < 300) {
      clear(form, dirty);
      banner(false);
    }
    var active = document.activeElement;
    carry = {
      formId: form.id,
      dirty: dirty,
      focusId: active && form.contains(active) ? active.id : "",
    };
  });

  document.body.addEventListener("htmx:afterSwap", function () {
    setup();
    var kept = carry;
    carry = null;
    if (!kept) return;
    var form = document.getElementById(kept.formId);
    if (!form) return;
    var names = Object.keys(kept.dirty);
    names.forEach(function (name) {
      apply(form, name, kept.dirty[name]);
    });
    var focus = kept.focusId && document.getElementById(kept.focusId);
    if (focus) focus.focus();
    // Save what changed while the previous save was on its way (not while in conflict:
    // then the user chooses).
    var autosaving = (form.getAttribute("hx-trigger") || "").indexOf("change") !== -1;
    if (names.length && autosaving) form.dispatchEvent(new Event("change", { bubbles: true }));
  });

  function failed(event) {
    var form = event.detail && event.detail.elt;
    if (isAutosaveForm(form)) form.wdInFlight = false;
    banner(true);
  }

  document.body.addEventListener("htmx:sendError", failed);
  document.body.addEventListener("htmx:responseError", failed);
  document.body.addEventListener("htmx:timeout", failed);

  window.addEventListener("online", retryAll);
  window.addEventListener("offline", function () {
    banner(true);
  });
})();
