//! What the scatter planners share ([`super::scatter`] and its aggregate,
//! HAVING, GROUP_CONCAT and ROLLUP parts): the hidden helper columns appended
//! to the per-set statement ([`Hidden`]), matching ORDER BY / GROUP BY items to
//! select items ([`resolve`]), and the wording of a refusal ([`unsupported`]).

use super::select::Item;
use crate::error::ProxyError;

pub(super) fn unsupported(what: &str) -> ProxyError {
    ProxyError::NotSupported(format!("{what} across sets"))
}

/// Collects hidden helper columns; they follow the `visible` select items.
pub(super) struct Hidden {
    pub(super) visible: usize,
    pub(super) exprs: Vec<String>,
}

impl Hidden {
    pub(super) fn add(&mut self, expr: String) -> usize {
        if let Some(i) = self.exprs.iter().position(|e| *e == expr) {
            return self.visible + i;
        }
        self.exprs.push(expr);
        self.visible + self.exprs.len() - 1
    }
    pub(super) fn sql(&self) -> String {
        self.exprs
            .iter()
            .enumerate()
            .map(|(i, e)| format!(", {e} AS `__sw{i}`"))
            .collect()
    }
}

pub(super) fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '`')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The select item an ORDER BY / GROUP BY item refers to: by position, alias or
/// identical expression.
pub(super) fn resolve(sql: &str, it: &Item, items: &[Item]) -> Option<usize> {
    let text = &sql[it.expr.0..it.expr.1];
    if let Ok(n) = text.trim().parse::<usize>() {
        return (n >= 1 && n <= items.len()).then(|| n - 1);
    }
    let t = text.trim().trim_matches('`');
    if let Some(i) = items.iter().position(|s| {
        s.alias
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(t))
    }) {
        return Some(i);
    }
    let n = normalize(text);
    items
        .iter()
        .position(|s| normalize(&sql[s.expr.0..s.expr.1]) == n)
}
