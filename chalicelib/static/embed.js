/* Consentry embed: a signup form rendered in your page, sent by JSON (CORS).

     <div data-consentry-form="newsletter" data-lang="nl">
       <a href="https://consent.example.org/forms/newsletter">Sign up for our newsletter</a>
     </div>
     <script src="https://consent.example.org/embed.js" async></script>

   The script replaces the element's content (a link that works without JavaScript) with
   the form, in the form's own words and colour. No dependencies, no cookies, nothing
   stored in the browser, nothing sent anywhere but the service the script came from (and,
   for a form with a bot challenge, the challenge provider the form names). data-lang is
   optional (else the browser's language). Style it through the consentry-* classes; the
   built-in rules have zero specificity, so any rule of yours wins.

   The post names the version of the texts shown, so the service records exactly those;
   a form with a minimum fill time carries its signed render time, as its own page does. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !me.src || !window.fetch) return;
  var base = me.src.replace(/\/embed\.js(?:[?#].*)?$/, "");
  var counter = 0;
  var CSS =
    ":where(.consentry-form){max-width:34rem;font:inherit;line-height:1.5}" +
    ":where(.consentry-heading){font-size:1.3em;line-height:1.25;margin:0 0 .5rem}" +
    ":where(.consentry-form) label{display:block;font-weight:600;margin:.75rem 0 .25rem}" +
    ":where(.consentry-form) input[type=email],:where(.consentry-form) input[type=text]" +
    "{width:100%;box-sizing:border-box;padding:.6rem;font:inherit;border:1px solid #4a5561;border-radius:4px}" +
    ":where(.consentry-form) fieldset{border:1px solid #c9d1d9;border-radius:4px;margin:1rem 0;padding:.5rem 1rem}" +
    ":where(.consentry-form) legend{font-weight:600}" +
    ":where(.consentry-purpose){display:flex;gap:.6rem;align-items:flex-start;margin:.6rem 0}" +
    ":where(.consentry-purpose) input{width:1.25rem;height:1.25rem;margin-top:.15rem;flex:none;" +
    "accent-color:var(--consentry-accent,#0b5cad)}" +
    ":where(.consentry-purpose) label{font-weight:400;margin:0}" +
    ":where(.consentry-hint){font-size:.9rem;color:#4a5561;margin:.25rem 0}" +
    ":where(.consentry-error){color:#a4161a;font-weight:600;margin:.25rem 0}" +
    ":where(.consentry-errors){border:2px solid #a4161a;padding:.5rem 1rem;border-radius:4px}" +
    ":where(.consentry-form) button{font:inherit;font-weight:600;padding:.7rem 1.2rem;border:0;" +
    "border-radius:4px;background:var(--consentry-accent,#0b5cad);color:var(--consentry-on-accent,#fff);" +
    "cursor:pointer}" +
    ":where(.consentry-form) button[disabled]{opacity:.7;cursor:progress}" +
    ":where(.consentry-form) :focus-visible,:where(.consentry-done):focus-visible" +
    "{outline:3px solid #1b1f24;outline-offset:2px}" +
    ":where(.consentry-done){border:2px solid var(--consentry-accent,#0b5cad);padding:.5rem 1rem;border-radius:4px}";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (attrs[name] !== null && attrs[name] !== undefined) node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function addStyle() {
    if (document.getElementById("consentry-style")) return;
    var style = el("style", { id: "consentry-style" }, [CSS]);
    (document.head || document.documentElement).appendChild(style);
  }

  function loadChallenge(challenge, widget) {
    // The provider's own script renders every widget on the page when it loads; once it
    // is there, a later form asks it directly.
    var api = window[challenge.kind];
    if (api && api.render) { api.render(widget); return; }
    if (document.querySelector("script[data-consentry-challenge]")) return;
    var script = el("script", { src: challenge.script, async: "", defer: "", "data-consentry-challenge": "" });
    document.head.appendChild(script);
  }

  function render(box, formId, data) {
    var t = data.texts;
    var id = "consentry-" + ++counter;
    var fields = {};
    var errorsOf = {};

    function errorNode(field) {
      var node = el("p", { id: id + "-" + field + "-error", class: "consentry-error" });
      node.hidden = true;
      errorsOf[field] = node;
      return node;
    }

    var summary = el("div", { class: "consentry-errors", role: "alert" });
    summary.hidden = true;
    fields.email = el("input", {
      type: "email", id: id + "-email", name: "email", required: "", autocomplete: "email",
      maxlength: "254", "aria-describedby": id + "-email-hint"
    });
    fields.name = el("input", {
      type: "text", id: id + "-name", name: "name", autocomplete: "name", maxlength: "100"
    });
    var boxes = data.purposes.map(function (purpose) {
      var input = el("input", {
        type: "checkbox", id: id + "-purpose-" + purpose.id, name: "purposes", value: purpose.id
      });
      return { input: input, row: el("div", { class: "consentry-purpose" }, [
        input, el("label", { for: input.id }, [purpose.text])
      ]) };
    });
    var fieldset = el("fieldset", {}, [el("legend", {}, [t.purposes]), errorNode("purposes")]);
    boxes.forEach(function (b) { fieldset.appendChild(b.row); });
    fields.purposes = fieldset;
    var trap = el("input", { type: "text", name: "website", tabindex: "-1", autocomplete: "off" });
    var hidden = el("div", { "aria-hidden": "true" }, [trap]);
    hidden.style.position = "absolute";
    hidden.style.left = "-10000px";
    hidden.style.width = "1px";
    hidden.style.height = "1px";
    hidden.style.overflow = "hidden";
    var button = el("button", { type: "submit" }, [t.submit]);
    var status = el("p", { class: "consentry-hint", role: "status" });
    var challenge = data.challenge || null;
    var widget = challenge
      ? el("div", { class: challenge.kind === "turnstile" ? "cf-turnstile" : "h-captcha", "data-sitekey": challenge.site_key })
      : null;
    var form = el("form", { class: "consentry-form", lang: data.lang, novalidate: "" }, [
      el("h2", { class: "consentry-heading" }, [t.heading]),
      el("p", { class: "consentry-hint" }, [
        t.controller + ": ", el("strong", {}, [data.controller.name]), ", " + data.controller.address
      ]),
      el("p", {}, [t.intro]),
      summary,
      el("label", { for: fields.email.id }, [t.email]),
      el("p", { id: id + "-email-hint", class: "consentry-hint" }, [t.email_hint]),
      errorNode("email"),
      fields.email,
      el("label", { for: fields.name.id }, [t.name]),
      errorNode("name"),
      fields.name,
      fieldset,
      hidden
    ]);
    if (widget) form.appendChild(widget);
    [
      el("p", {}, [t.withdraw]),
      el("p", {}, [t.privacy_before + " ", el("a", { href: data.controller.privacy_url }, [t.privacy_link]), "."]),
      button,
      status
    ].forEach(function (node) { form.appendChild(node); });
    if (data.brand) {
      form.style.setProperty("--consentry-accent", data.brand.accent);
      form.style.setProperty("--consentry-on-accent", data.brand.button_text);
    }

    function clear() {
      summary.hidden = true;
      summary.textContent = "";
      Object.keys(errorsOf).forEach(function (field) {
        errorsOf[field].hidden = true;
        errorsOf[field].textContent = "";
        var target = fields[field];
        target.removeAttribute("aria-invalid");
        var described = (target.getAttribute("aria-describedby") || "").split(" ").filter(function (ref) {
          return ref && ref !== errorsOf[field].id;
        });
        if (described.length) target.setAttribute("aria-describedby", described.join(" "));
        else target.removeAttribute("aria-describedby");
      });
    }

    function showErrors(messages) {
      var first = null;
      var general = [];
      Object.keys(messages).forEach(function (field) {
        var node = errorsOf[field];
        if (!node) { general.push(messages[field]); return; }
        node.textContent = messages[field];
        node.hidden = false;
        var target = fields[field];
        if (field !== "purposes") target.setAttribute("aria-invalid", "true");
        var described = (target.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
        described.push(node.id);
        target.setAttribute("aria-describedby", described.join(" "));
        if (!first) first = field === "purposes" ? boxes[0].input : target;
      });
      summary.appendChild(el("p", {}, [t.errors]));
      general.forEach(function (message) { summary.appendChild(el("p", {}, [message])); });
      summary.hidden = false;
      (first || fields.email).focus();
    }

    function fail(message) {
      summary.textContent = "";
      summary.appendChild(el("p", {}, [message]));
      summary.hidden = false;
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clear();
      button.disabled = true;
      status.textContent = t.sending;
      var body = {
        email: fields.email.value,
        name: fields.name.value,
        lang: data.lang,
        purposes: boxes.filter(function (b) { return b.input.checked; }).map(function (b) { return b.input.value; }),
        website: trap.value,
        version: data.version
      };
      if (data.stamp) body[data.stamp.field] = data.stamp.value;
      if (challenge) {
        var answer = form.querySelector("[name='" + challenge.field + "']");
        body[challenge.field] = answer ? answer.value : "";
      }
      fetch(base + "/forms/" + encodeURIComponent(formId), {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (answer) {
          button.disabled = false;
          status.textContent = "";
          if (response.status !== 202 && challenge && window[challenge.kind] && window[challenge.kind].reset) {
            window[challenge.kind].reset(widget);  // an answer counts once
          }
          if (response.status === 202) {
            var done = el("div", { class: "consentry-done", role: "status", tabindex: "-1", lang: data.lang }, [
              el("p", {}, [el("strong", {}, [t.done_title])]),
              t.thank_you ? el("p", {}, [t.thank_you]) : "",
              el("p", {}, [t.done])
            ]);
            form.replaceWith(done);
            done.focus();
          } else if (response.status === 422) {
            showErrors(answer.messages || answer.errors || { body: t.invalid });
          } else if (response.status === 429) {
            fail(t.throttled);
          } else {
            fail(t.failed);
          }
        });
      }).catch(function () {
        button.disabled = false;
        status.textContent = "";
        fail(t.failed);
      });
    });

    box.textContent = "";
    box.appendChild(form);
    if (widget) loadChallenge(challenge, widget);
  }

  function mount(box) {
    if (box.getAttribute("data-consentry-ready")) return;
    box.setAttribute("data-consentry-ready", "loading");
    var formId = box.getAttribute("data-consentry-form");
    var lang = box.getAttribute("data-lang");
    var url = base + "/forms/" + encodeURIComponent(formId) + "/embed" + (lang ? "?lang=" + encodeURIComponent(lang) : "");
    fetch(url, { mode: "cors", credentials: "omit", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("form " + formId + ": " + response.status);
        return response.json();
      })
      .then(function (data) {
        addStyle();
        render(box, formId, data);
        box.setAttribute("data-consentry-ready", "yes");
      })
      .catch(function (error) {
        // The element keeps its own content: the link to the form page still works.
        box.setAttribute("data-consentry-ready", "failed");
        if (window.console) console.warn("Consentry:", error.message);
      });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-consentry-form]"), mount);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
