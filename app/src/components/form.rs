//! Form fields shared by the admin forms: a labelled text input with its message, and the
//! state that decides which messages show.

use std::collections::BTreeSet;

use leptos::prelude::*;

use crate::alerts::Saved;
use crate::components::toast::Toasts;
use crate::error::AppError;
use crate::validation::FieldErrors;

/// A labelled input bound to `value`, with `error` under it. `on_edit` runs after each edit.
#[component]
pub fn TextField(
    name: &'static str,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    /// The input's `data-testid`.
    testid: String,
    on_edit: Callback<()>,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{label}</span>
            <input
                type=kind
                name=name
                data-testid=testid
                // The attribute for the server's HTML (a default shows before hydration and
                // without JavaScript); the property keeps it in step afterwards.
                value=value.get_untracked()
                prop:value=move || value.get()
                aria-invalid=move || error.get().is_some().to_string()
                on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    on_edit.run(());
                }
            />
            <FieldError error name />
        </label>
    }
}

/// A field's message, next to it.
#[component]
pub fn FieldError(error: Signal<Option<String>>, name: &'static str) -> impl IntoView {
    move || {
        error.get().map(|message| {
            view! { <span class="field-error" role="alert" data-testid=format!("error-{name}")>{message}</span> }
        })
    }
}

/// Which message each field shows: the server's answer to the last submit, else the form's own
/// rules once the field was edited or the form submitted.
#[derive(Clone, Copy)]
pub struct FieldMessages {
    touched: RwSignal<BTreeSet<&'static str>>,
    submitted: RwSignal<bool>,
    server: RwSignal<FieldErrors>,
    local: Memo<FieldErrors>,
}

impl FieldMessages {
    /// `local` is the form's own rules applied to what is typed.
    pub fn new(local: Memo<FieldErrors>) -> Self {
        Self {
            touched: RwSignal::new(BTreeSet::new()),
            submitted: RwSignal::new(false),
            server: RwSignal::new(FieldErrors::new()),
            local,
        }
    }

    pub fn of(self, name: &'static str) -> Signal<Option<String>> {
        Signal::derive(move || {
            let shown = self.submitted.get() || self.touched.read().contains(name);
            self.server.read().get(name).cloned().or_else(|| {
                shown
                    .then(|| self.local.read().get(name).cloned())
                    .flatten()
            })
        })
    }

    /// `name` was edited: its rule's message may show, the server's no longer applies.
    pub fn edited(self, name: &'static str) {
        self.touched.update(|t| {
            t.insert(name);
        });
        self.server.update(|e| {
            e.remove(name);
        });
    }

    /// The form was submitted: every rule's message shows. Whether the form may be sent.
    pub fn submit(self) -> bool {
        self.submitted.set(true);
        self.local.read_untracked().is_empty()
    }

    pub fn answered(self, errors: FieldErrors) {
        self.server.set(errors);
    }
}

/// Shows what saving a form came to: `saved` as a toast and then `on_saved`, or the server's
/// field messages, or the error as a toast.
pub fn show_answer(
    answer: impl Get<Value = Option<Result<Saved, AppError>>> + 'static,
    messages: FieldMessages,
    saved: &'static str,
    on_saved: impl Fn() + 'static,
) {
    Effect::new(move |_| match answer.get() {
        Some(Ok(Saved::Saved(_))) => {
            Toasts::show(saved);
            on_saved();
        }
        Some(Ok(Saved::Invalid(errors))) => messages.answered(errors),
        Some(Err(err)) => Toasts::show(err.to_string()),
        None => {}
    });
}
