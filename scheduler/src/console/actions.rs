//! The console's actions (today: a switchover per set) and who may run them.
//!
//! Actions take the CLI's authentication: an etcd user and password, the
//! `[etcd] user`/`password` a DBA gives `setwise`. Each `POST` carries them —
//! as form fields from the page's form, or as HTTP Basic credentials
//! (`curl -u`) — and the console connects to etcd *as that user* and writes
//! the request with that connection, so etcd checks the password and its roles
//! decide what the user may write, exactly as for the CLI. Nothing is kept
//! between requests (no session, no cookie): a page of another site cannot
//! make the browser act (no ambient credentials, so no CSRF), and reads stay
//! open. An etcd without authentication has no users to check: actions are
//! then refused (403) and stay with the CLI.
//!
//! A switchover writes the same request `setwise switchover` writes
//! ([`crate::cli::ops::request_switchover`]); the page it redirects to shows
//! its progress until the scheduler's record says done or failed.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use topo::{EtcdConfig, Topo};

use super::html::escape;
use crate::cli::ops::{self, SwitchoverState};

/// An etcd user and password, from the form or the `Authorization` header.
pub struct Credentials {
    pub user: String,
    pub password: String,
}

/// Why an action was not run.
#[derive(Debug, PartialEq)]
pub enum Denied {
    /// No credentials (401).
    Missing,
    /// etcd refused them (401).
    Wrong(String),
    /// etcd has no authentication: nobody can be checked (403).
    NoEtcdAuth,
    /// etcd did not answer (503).
    Unreachable(String),
}

/// The credentials of a request: the form's `user`/`password`, else HTTP Basic.
pub fn credentials(headers: &HeaderMap, form: &HashMap<String, String>) -> Option<Credentials> {
    if let Some(user) = form.get("user").filter(|u| !u.is_empty()) {
        return Some(Credentials {
            user: user.clone(),
            password: form.get("password").cloned().unwrap_or_default(),
        });
    }
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    (!user.is_empty()).then(|| Credentials {
        user: user.to_string(),
        password: password.to_string(),
    })
}

/// Connects to etcd as `who` (the scheduler's endpoints, TLS and cluster):
/// etcd checks the password when the connection authenticates.
pub async fn login(etcd: &EtcdConfig, who: Option<Credentials>) -> Result<Topo, Denied> {
    let who = who.ok_or(Denied::Missing)?;
    let cfg = EtcdConfig {
        user: who.user,
        password: who.password,
        ..etcd.clone()
    };
    match Topo::connect(&cfg).await {
        Ok(t) => Ok(t),
        Err(topo::TopoError::Unreachable { source, .. }) => {
            let why = crate::cli::root_cause(&source);
            Err(classify(&why))
        }
        Err(e) => Err(Denied::Unreachable(e.to_string())),
    }
}

/// What etcd's answer to an authentication means.
fn classify(why: &str) -> Denied {
    if why.contains("authentication is not enabled") {
        Denied::NoEtcdAuth
    } else if why.contains("authentication failed") || why.contains("invalid user") {
        Denied::Wrong(why.to_string())
    } else {
        Denied::Unreachable(why.to_string())
    }
}

/// The answer to a refused action.
pub fn refused(d: Denied) -> Response {
    let (status, text) = match d {
        Denied::Missing => (
            StatusCode::UNAUTHORIZED,
            "an action needs an etcd user and password (the CLI's [etcd] user/password)".into(),
        ),
        Denied::Wrong(why) => (StatusCode::UNAUTHORIZED, format!("etcd refused: {why}")),
        Denied::NoEtcdAuth => (
            StatusCode::FORBIDDEN,
            "etcd has no authentication (etcdctl auth enable): the console cannot check who \
             asks, so its actions are off; use the setwise CLI"
                .into(),
        ),
        Denied::Unreachable(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot reach etcd: {why}"),
        ),
    };
    let mut r = (status, message_page("Refused", &text)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"setwise console\""),
        );
    }
    r
}

/// `POST /actions/switchover` (form: `set`, `to.<set>` or `to` — empty: the
/// scheduler's pick — and the credentials): writes the request as the
/// authenticated user, then sends the browser to the page following it.
pub async fn switchover(etcd: &EtcdConfig, headers: &HeaderMap, body: &str) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let topo = match login(etcd, credentials(headers, &form)).await {
        Ok(t) => t,
        Err(d) => return refused(d),
    };
    let Some(set) = form.get("set").filter(|s| !s.is_empty()) else {
        return (
            StatusCode::BAD_REQUEST,
            message_page("Refused", "which set? (form field set)"),
        )
            .into_response();
    };
    let to = form
        .get(&format!("to.{set}"))
        .or_else(|| form.get("to"))
        .filter(|t| !t.is_empty())
        .cloned();
    let user = form
        .get("user")
        .cloned()
        .or_else(|| credentials(headers, &HashMap::new()).map(|c| c.user))
        .unwrap_or_default();
    let origin = format!("console-{}", id_safe(&user));
    match ops::request_switchover(&topo, set, to, &origin).await {
        Ok(req) => {
            tracing::info!(%set, %user, request = %req.id, "console: switchover requested");
            let location = format!(
                "/?set={}&request={}",
                form_urlencoded::byte_serialize(set.as_bytes()).collect::<String>(),
                form_urlencoded::byte_serialize(req.id.as_bytes()).collect::<String>()
            );
            (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
        }
        Err(e) => {
            let why = format!("{e:#}");
            // etcd's roles did not let this user read or write the request.
            let status = match why.contains("permission denied") {
                true => StatusCode::FORBIDDEN,
                false => StatusCode::CONFLICT,
            };
            (status, message_page("Not requested", &why)).into_response()
        }
    }
}

/// The user name as it may go into a request id.
fn id_safe(user: &str) -> String {
    user.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(32)
        .collect()
}

/// The progress line of the switchover a page follows (`?set=&request=`), as
/// the first thing in the refreshed sections; empty when it follows none.
pub async fn progress(topo: &Topo, query: &HashMap<String, String>) -> String {
    let (Some(set), Some(request)) = (query.get("set"), query.get("request")) else {
        return String::new();
    };
    let (state, line) = match ops::switchover_state(topo, set, request).await {
        Ok(SwitchoverState::Waiting(r)) => ("running", r.line),
        Ok(SwitchoverState::Done(line)) => ("done", line),
        Ok(SwitchoverState::Failed(why)) => ("failed", why),
        Err(e) => ("unknown", format!("cannot read the switchover: {e:#}")),
    };
    format!(
        "<p id=\"action\" class=\"action {state}\" data-state=\"{state}\">{}</p>",
        escape(&line)
    )
}

/// The switchover form: the credentials once, and per set a target (a
/// replica, or the scheduler's pick) and its button. Outside the refreshed
/// sections, so what is typed stays while the page refreshes.
pub fn form(sets: &[(String, Vec<String>)]) -> String {
    let mut out = String::from(
        "<section id=\"actions\"><h2>Actions</h2>\
         <form id=\"switchover\" method=\"post\" action=\"/actions/switchover\">\
         <p>etcd credentials (as for <code>setwise</code>): \
         <input name=\"user\" id=\"user\" placeholder=\"user\" autocomplete=\"username\"> \
         <input name=\"password\" id=\"password\" type=\"password\" placeholder=\"password\" \
         autocomplete=\"current-password\"></p><table><tbody>",
    );
    for (set, replicas) in sets {
        let s = escape(set);
        let _ = write!(
            out,
            "<tr><td>{s}</td><td><select name=\"to.{s}\" id=\"to-{s}\">\
             <option value=\"\">the scheduler's pick</option>"
        );
        for r in replicas {
            let r = escape(r);
            let _ = write!(out, "<option value=\"{r}\">{r}</option>");
        }
        let _ = write!(
            out,
            "</select></td><td><button type=\"submit\" name=\"set\" value=\"{s}\" \
             id=\"switchover-{s}\">Switch over {s}</button></td></tr>"
        );
    }
    out.push_str("</tbody></table></form></section>");
    out
}

/// A small page with one message (a refusal, an error).
fn message_page(title: &str, text: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Setwise · {t}</title><link rel=\"stylesheet\" href=\"/assets/console.css\">\
         </head><body><h1>{t}</h1><p id=\"message\">{m}</p><p><a href=\"/\">back</a></p>\
         </body></html>\n",
        t = escape(title),
        m = escape(text)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_from_the_form_or_basic() {
        let mut form = HashMap::new();
        let mut h = HeaderMap::new();
        assert!(credentials(&h, &form).is_none());
        // "dba:s3:cret"
        h.insert(
            header::AUTHORIZATION,
            "Basic ZGJhOnMzOmNyZXQ=".parse().unwrap(),
        );
        let c = credentials(&h, &form).unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("dba", "s3:cret"));
        form.insert("user".into(), "root".into());
        form.insert("password".into(), "pw".into());
        let c = credentials(&h, &form).unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("root", "pw"));
        h.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert!(credentials(&h, &HashMap::new()).is_none());
    }

    #[test]
    fn etcd_answers() {
        assert_eq!(
            classify("etcdserver: authentication is not enabled"),
            Denied::NoEtcdAuth
        );
        assert!(matches!(
            classify("etcdserver: authentication failed, invalid user ID or password"),
            Denied::Wrong(_)
        ));
        assert!(matches!(
            classify("Connection refused (os error 111)"),
            Denied::Unreachable(_)
        ));
    }

    #[test]
    fn the_form_has_a_button_per_set() {
        let f = form(&[
            ("set1".into(), vec!["set1-n1".into()]),
            ("set2".into(), vec![]),
        ]);
        assert!(f.contains("id=\"switchover-set1\""));
        assert!(f.contains("id=\"switchover-set2\""));
        assert!(f.contains("<option value=\"set1-n1\">"));
        assert!(f.contains("method=\"post\""));
    }
}
