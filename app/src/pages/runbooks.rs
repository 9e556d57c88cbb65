//! `/runbooks` and `/runbooks/:id`: the remediation catalogue, searchable by words.

use leptos::prelude::*;
use leptos_fetch::{QueryClient, QueryScope};
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use leptos_router::params::ParamsMap;

use crate::components::query_view::{EmptyState, QueryView};
use crate::components::search_box::SearchBox;
use crate::error::AppError;
use crate::queries::runbook_options;
use crate::scoring::CATEGORIES;
use crate::types::{Runbook, RunbookFilter};

const LEVELS: [&str; 3] = ["L1", "L2", "L3"];

crate::query_args!(ListRunbooks);

#[server(input = crate::codec::Query, endpoint = "list_runbooks")]
pub async fn list_runbooks(filter: RunbookFilter) -> Result<Vec<Runbook>, AppError> {
    crate::auth::require_role(crate::auth::Role::Readonly)?;
    let (db, _) = crate::aggregates::request_state()?;
    let runbooks = crate::db::runbooks(&db).await?;
    Ok(runbooks.into_iter().filter(|r| filter.matches(r)).collect())
}

crate::query_args!(GetRunbook);

#[server(input = crate::codec::Query, endpoint = "get_runbook")]
pub async fn get_runbook(id: String) -> Result<Runbook, AppError> {
    crate::auth::require_role(crate::auth::Role::Readonly)?;
    let (db, _) = crate::aggregates::request_state()?;
    crate::db::runbooks(&db)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| AppError::NotFound(format!("no runbook {id:?}")).with_status())
}

fn filter_from_query(query: &ParamsMap) -> RunbookFilter {
    let keep = |value: Option<String>, allowed: &[&str]| {
        value
            .filter(|v| allowed.contains(&v.as_str()))
            .unwrap_or_default()
    };
    RunbookFilter {
        q: query.get("q").unwrap_or_default().trim().to_string(),
        level: keep(query.get("level"), &LEVELS),
        category: keep(query.get("category"), &CATEGORIES),
    }
}

fn filter_href(filter: &RunbookFilter) -> String {
    let mut query = ParamsMap::new();
    for (key, value) in [
        ("q", &filter.q),
        ("level", &filter.level),
        ("category", &filter.category),
    ] {
        if !value.is_empty() {
            query.insert(key, value.clone());
        }
    }
    format!("/runbooks{}", query.to_query_string())
}

pub fn runbooks_query() -> QueryScope<RunbookFilter, Result<Vec<Runbook>, AppError>> {
    QueryScope::new(list_runbooks).with_options(runbook_options())
}

pub fn runbook_query() -> QueryScope<String, Result<Runbook, AppError>> {
    QueryScope::new(get_runbook).with_options(runbook_options())
}

#[component]
pub fn RunbooksPage() -> impl IntoView {
    let client: QueryClient = expect_context();
    let query = use_query_map();
    let filter = Memo::new(move |_| filter_from_query(&query.read()));
    let runbooks = client.resource_blocking(runbooks_query(), move || filter.get());
    let retry = Callback::new(move |_| {
        client.invalidate_query(runbooks_query(), filter.get_untracked());
    });
    let navigate = use_navigate();
    let go = move |next: RunbookFilter| navigate(&filter_href(&next), NavigateOptions::default());
    let on_search = Callback::new({
        let go = go.clone();
        move |q: String| {
            go(RunbookFilter {
                q,
                ..filter.get_untracked()
            })
        }
    });
    let q = Memo::new(move |_| filter.read().q.clone());
    let select = move |name: &'static str, options: &'static [&'static str]| {
        let go = go.clone();
        view! {
            <select
                name=name
                data-testid=format!("runbook-{name}")
                on:change=move |ev| {
                    let value = event_target_value(&ev);
                    let current = filter.get_untracked();
                    go(if name == "level" {
                        RunbookFilter { level: value, ..current }
                    } else {
                        RunbookFilter { category: value, ..current }
                    })
                }
            >
                <option value="">"All"</option>
                {options
                    .iter()
                    .map(|o| {
                        let selected = move || {
                            let f = filter.read();
                            (if name == "level" { &f.level } else { &f.category }) == o
                        };
                        view! { <option value=*o selected=selected>{o.replace('_', " ")}</option> }
                    })
                    .collect_view()}
            </select>
        }
    };
    view! {
        <Title text="Runbooks" />
        <form class="filters" method="get" action="/runbooks" on:submit=|ev| ev.prevent_default()>
            <SearchBox
                value=q
                on_search
                placeholder="Name, id, description or HIPAA control"
                testid="runbook-search"
            />
            <label>"Level "{select("level", &LEVELS)}</label>
            <label>"Category "{select("category", &CATEGORIES)}</label>
            <noscript><button type="submit" class="button">"Apply"</button></noscript>
        </form>
        <QueryView rows=8 retry>
            {move || Suspend::new(async move {
                runbooks
                    .await
                    .map(|runbooks| {
                        if runbooks.is_empty() {
                            return view! { <EmptyState message="No runbooks match.".to_string() /> }.into_any();
                        }
                        view! {
                            <p class="result-count" data-testid="runbook-count">{runbooks.len()}" runbooks"</p>
                            <table class="data-table" data-testid="runbooks-table">
                                <thead><tr><th>"Id"</th><th>"Name"</th><th>"Category"</th><th>"Level"</th><th>"Runs"</th><th>"Success"</th></tr></thead>
                                <tbody>
                                    {runbooks
                                        .into_iter()
                                        .map(|r| {
                                            view! {
                                                <tr>
                                                    <td>{r.id.clone()}</td>
                                                    <td><A href=format!("/runbooks/{}", r.id)>{r.name}</A></td>
                                                    <td>{r.category.replace('_', " ")}</td>
                                                    <td>{r.level}</td>
                                                    <td>{r.execution_count}</td>
                                                    <td>{format!("{:.0}%", r.success_rate * 100.0)}</td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        }
                        .into_any()
                    })
            })}
        </QueryView>
    }
}

#[component]
pub fn RunbookDetailPage() -> impl IntoView {
    let client: QueryClient = expect_context();
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let runbook = client.resource_blocking(runbook_query(), id);
    let retry = Callback::new(move |_| {
        client.invalidate_query(runbook_query(), id());
    });
    view! {
        <QueryView rows=6 retry>
            {move || Suspend::new(async move {
                runbook
                    .await
                    .map(|r| {
                        view! {
                            <Title text=r.name.clone() />
                            <h2 data-testid="runbook-name">{r.id.clone()}" · "{r.name}</h2>
                            <p>{r.description}</p>
                            <dl class="facts">
                                <dt>"Category"</dt><dd>{r.category.replace('_', " ")}</dd>
                                <dt>"Level"</dt><dd>{r.level}</dd>
                                <dt>"Check types"</dt><dd>{r.check_types.join(", ")}</dd>
                                <dt>"HIPAA controls"</dt><dd>{r.hipaa_controls.join(", ")}</dd>
                                <dt>"Disruptive"</dt><dd>{if r.disruptive { "yes: schedule outside clinic hours" } else { "no" }}</dd>
                                <dt>"Executions"</dt><dd>{r.execution_count}</dd>
                                <dt>"Success rate"</dt><dd>{format!("{:.1}%", r.success_rate * 100.0)}</dd>
                                <dt>"Average duration"</dt><dd>{format!("{:.0} s", r.avg_duration_seconds)}</dd>
                            </dl>
                            <h3>"Steps"</h3>
                            <ol class="steps">{r.steps.into_iter().map(|s| view! { <li>{s}</li> }).collect_view()}</ol>
                        }
                    })
            })}
        </QueryView>
    }
}
