// Autosave safety for the dossier forms: keep what was typed on this device until the
// server has stored it, warn when a save fails, and retry when the connection is back.
// Keys hold the dossier id, topic and field name only, never personal data.
//
// Each kept copy carries the version of the topic it was typed against ("base"), and is
// only ever sent with that version. A copy whose base is not the page's version (someone
// saved the topic since) is never sent by itself: it is offered beside the saved value as
// "your unsaved text", and the person chooses to use it or to keep the saved version.
(function () {
  "use strict";

  var PREFIX = "wd-dossier:";
  // Carried from htmx:beforeSwap to htmx:afterSettle: what changed while a save was on its way.
  var carry = null;
  // Forms whose offer has been announced on this page, so a later swap does not repeat it.
  var announced = {};

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

  // The version the answers in this form were typed against: the page's version, or in a
  // conflict the older version the editor started from.
  function baseOf(form) {
    var base = parseInt(form.dataset.baseVersion, 10);
    return isNaN(base) ? -1 : base;
  }

  function inConflict(form) {
    return form.hasAttribute("data-conflict");
  }

  function autosaving(form) {
    return (form.getAttribute("hx-trigger") || "").indexOf("change") !== -1;
  }

  function banner(show) {
    document.querySelectorAll("[data-offline-banner]").forEach(function (el) {
      el.hidden = !show;
    });
  }

  function announce(form, text) {
    var status = form.dataset.status && document.getElementById(form.dataset.status);
    if (status && text) status.textContent = text;
  }

  function valueOf(field) {
    return field.type === "checkbox" ? (field.checked ? "on" : "") : field.value;
  }

  function fieldsOf(form, name) {
    return form.elements.namedItem(name);
  }

  function firstOf(fields) {
    return fields instanceof RadioNodeList ? fields[0] : fields;
  }

  function current(form, name) {
    var fields = fieldsOf(form, name);
    if (!fields) return null;
    if (fields instanceof RadioNodeList) {
      var checked = Array.prototype.filter.call(fields, function (el) {
        return el.type !== "radio" || el.checked;
      });
      return checked.length ? valueOf(checked[0]) : "";
    }
    return valueOf(fields);
  }

  function apply(form, name, value) {
    var fields = fieldsOf(form, name);
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

  // --- The copies kept on this device: {value, base} per field ------------------------

  function readCopy(raw) {
    try {
      var copy = JSON.parse(raw);
      if (copy && typeof copy.value === "string" && typeof copy.base === "number") return copy;
    } catch (e) {
      // fall through
    }
    // A copy kept without its version (by an earlier version of this script) cannot be
    // sent safely: it is offered like a copy typed against an older version.
    return { value: String(raw), base: -1 };
  }

  function keep(form, name, value, base) {
    var store = storage();
    if (!store) return;
    try {
      store.setItem(formKey(form) + name, JSON.stringify({ value: value, base: base }));
    } catch (e) {
      // Storage full or refused: the value is still in the form and sent as usual.
    }
  }

  function drop(form, name) {
    var store = storage();
    if (store) store.removeItem(formKey(form) + name);
  }

  // field name -> {value, base}, for the fields of this form only
  function copies(form) {
    var store = storage();
    var result = {};
    if (!store) return result;
    var prefix = formKey(form);
    for (var i = 0; i < store.length; i++) {
      var key = store.key(i);
      if (!key || key.indexOf(prefix) !== 0) continue;
      var name = key.slice(prefix.length);
      if (fieldsOf(form, name)) result[name] = readCopy(store.getItem(key));
    }
    return result;
  }

  // Forget the copies that a stored save carried: those typed against `base`, except what
  // changed while the save was on its way.
  function forget(form, base, except) {
    var all = copies(form);
    Object.keys(all).forEach(function (name) {
      if (all[name].base === base && !(name in except)) drop(form, name);
    });
  }

  function sendable(form) {
    var base = baseOf(form);
    var all = copies(form);
    return Object.keys(all).filter(function (name) {
      return all[name].base === base;
    });
  }

  function remember(event) {
    var field = event.target;
    var form = field.form;
    if (!isAutosaveForm(form) || !field.name) return;
    if (field.type === "hidden" || field.type === "submit") return;
    if (field.type === "radio" && !field.checked) return;
    var value = valueOf(field);
    if (form.wdInFlight) form.wdDirty[field.name] = value;
    keep(form, field.name, value, baseOf(form));
    // Typing anew in a question replaces the older text offered for it.
    if (form.wdOffered && form.wdOffered.indexOf(field.name) !== -1) {
      form.wdOffered = form.wdOffered.filter(function (name) {
        return name !== field.name;
      });
      render(form);
    }
  }

  // --- The offer: older text beside the saved value, and the choice ------------------

  function display(form, name, value, box) {
    var fields = fieldsOf(form, name);
    var field = firstOf(fields);
    if (field && field.type === "checkbox") {
      return value === "on" ? box.dataset.yes : box.dataset.no;
    }
    if (fields instanceof RadioNodeList) {
      var radio = Array.prototype.find.call(fields, function (el) {
        return el.type === "radio" && el.value === value;
      });
      if (radio && radio.labels && radio.labels.length) return radio.labels[0].textContent.trim();
    }
    if (field && field.tagName === "SELECT") {
      var option = Array.prototype.find.call(field.options, function (el) {
        return el.value === value;
      });
      if (option) return option.textContent.trim();
    }
    return value === "" ? box.dataset.empty : value;
  }

  function pair(list, label, text) {
    var div = document.createElement("div");
    var dt = document.createElement("dt");
    var dd = document.createElement("dd");
    dt.textContent = label;
    dd.textContent = text;
    div.appendChild(dt);
    div.appendChild(dd);
    list.appendChild(div);
  }

  function render(form) {
    var box = form.querySelector("[data-kept-box]");
    form.querySelectorAll("[data-kept-field]").forEach(function (el) {
      el.remove();
    });
    var names = form.wdOffered || [];
    if (!box) return;
    if (!names.length) {
      box.hidden = true;
      return;
    }
    var all = copies(form);
    names.forEach(function (name) {
      var field = firstOf(fieldsOf(form, name));
      if (!field || !all[name]) return;
      var list = document.createElement("dl");
      list.className = "wd-conflict wd-kept-field";
      list.setAttribute("data-kept-field", name);
      pair(list, box.dataset.labelSaved, display(form, name, current(form, name), box));
      pair(list, box.dataset.labelYours, display(form, name, all[name].value, box));
      var place =
        field.closest(".wd-field-row") ||
        field.closest(".utrecht-form-fieldset, .utrecht-form-field") ||
        field.parentNode;
      place.appendChild(list);
    });
    box.hidden = false;
  }

  // Put back what was typed against this page's version (a lost connection, a closed tab)
  // and offer what was typed against an older one. Returns the names put back.
  function reconcile(form) {
    var base = baseOf(form);
    var all = copies(form);
    var restored = [];
    var offered = [];
    Object.keys(all).forEach(function (name) {
      var copy = all[name];
      if (copy.base === base) {
        apply(form, name, copy.value);
        restored.push(name);
      } else if (inConflict(form)) {
        // The conflict box shows both answers of this save; older text waits until after.
      } else if (current(form, name) === copy.value) {
        drop(form, name); // The saved value is what was typed: nothing is lost.
      } else {
        offered.push(name);
      }
    });
    form.wdOffered = offered;
    render(form);
    return restored;
  }

  function present(form, focus) {
    if (!form.wdOffered || !form.wdOffered.length || announced[form.id]) return;
    announced[form.id] = true;
    var box = form.querySelector("[data-kept-box]");
    var topic = form.closest("details");
    if (topic) topic.open = true;
    announce(form, box.dataset.announce);
    if (focus) box.focus();
  }

  function offeredFields(form) {
    return (form.wdOffered || []).map(function (name) {
      return firstOf(fieldsOf(form, name));
    });
  }

  function useMine(form) {
    var base = baseOf(form);
    var all = copies(form);
    var box = form.querySelector("[data-kept-box]");
    var fields = offeredFields(form);
    (form.wdOffered || []).forEach(function (name) {
      // A deliberate choice: from now on this text is typed against the page's version.
      apply(form, name, all[name].value);
      keep(form, name, all[name].value, base);
    });
    form.wdOffered = [];
    announced[form.id] = false;
    render(form);
    announce(form, box && box.dataset.saving);
    if (fields[0]) fields[0].focus();
    if (window.htmx) window.htmx.trigger(form, "wd-retry");
  }

  function keepSaved(form) {
    var box = form.querySelector("[data-kept-box]");
    var fields = offeredFields(form);
    (form.wdOffered || []).forEach(function (name) {
      drop(form, name);
    });
    form.wdOffered = [];
    announced[form.id] = false;
    render(form);
    announce(form, box && box.dataset.discarded);
    if (fields[0]) fields[0].focus();
  }

  document.addEventListener("click", function (event) {
    var choice = "[data-kept-use], [data-kept-discard], [data-autosave-discard]";
    var target = event.target.closest && event.target.closest(choice);
    if (!target) return;
    var form = target.closest("form[data-autosave]");
    if (!form) return;
    if (target.hasAttribute("data-kept-use")) useMine(form);
    else if (target.hasAttribute("data-kept-discard")) keepSaved(form);
    // "Use the saved version" in the conflict box: the text of this save is given up.
    else forget(form, baseOf(form), {});
  });

  function retryAll() {
    document.querySelectorAll("form[data-autosave]").forEach(function (form) {
      if (!autosaving(form) || !sendable(form).length || !window.htmx) return;
      window.htmx.trigger(form, "wd-retry");
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
    var send = false;
    var first = null;
    document.querySelectorAll("form[data-autosave]").forEach(function (form) {
      // Drop what the browser itself put back on reload: only copies with their version count.
      form.reset();
      send = reconcile(form).length > 0 || send;
      if (!first && form.wdOffered.length) first = form;
    });
    document.querySelectorAll("form[data-autosave]").forEach(function (form) {
      present(form, form === first);
    });
    if (send && navigator.onLine) retryAll();
  });

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (!isAutosaveForm(form)) return;
    form.wdInFlight = true;
    form.wdDirty = {};
    form.wdSentBase = baseOf(form);
  });

  // Before any swap or redirect ("Next"): only a 2xx means the answers are stored.
  document.body.addEventListener("htmx:beforeOnLoad", function (event) {
    var status = event.detail.xhr.status;
    var form = event.detail.elt;
    if (!isAutosaveForm(form) || status < 200 || status >= 300) return;
    forget(form, form.wdSentBase, form.wdDirty || {});
    banner(false);
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
    form.wdInFlight = false;
    var active = document.activeElement;
    carry = {
      formId: form.id,
      dirty: form.wdDirty || {},
      sentBase: form.wdSentBase,
      stored: status >= 200 && status < 300,
      focusId: active && form.contains(active) ? active.id : "",
    };
  });

  document.body.addEventListener("htmx:afterSwap", setup);

  // After the settle, when htmx has wired up the new form: a change dispatched before
  // that would be lost.
  document.body.addEventListener("htmx:afterSettle", function () {
    var kept = carry;
    carry = null;
    if (!kept) return;
    var form = document.getElementById(kept.formId);
    if (!form) return;
    var names = Object.keys(kept.dirty);
    var saved = parseInt(form.dataset.savedVersion, 10);
    var all = copies(form);
    names.forEach(function (name) {
      // Typed while the save was on its way, so against what that save stored.
      var copy = all[name];
      if (kept.stored && !isNaN(saved) && copy && copy.base === kept.sentBase) {
        keep(form, name, copy.value, saved);
      }
    });
    var restored = reconcile(form);
    if (!storage()) {
      // Nothing kept on this device: put back from memory what the save did not carry.
      names.forEach(function (name) {
        apply(form, name, kept.dirty[name]);
      });
      restored = names;
    }
    var focus = kept.focusId && document.getElementById(kept.focusId);
    if (focus) focus.focus();
    present(form, !focus);
    // Save what changed while the previous save was on its way (not while in conflict:
    // then the user chooses).
    var again = names.some(function (name) {
      return restored.indexOf(name) !== -1;
    });
    if (again && autosaving(form)) form.dispatchEvent(new Event("change", { bubbles: true }));
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
