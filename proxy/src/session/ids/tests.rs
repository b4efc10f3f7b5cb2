use crate::session::text::select_items;
use crate::sql::lexer::{significant, tokenize};

fn items(sql: &str) -> Vec<(String, bool)> {
    let toks = tokenize(sql).unwrap();
    let sig = significant(&toks);
    select_items(sql, &sig)
        .into_iter()
        .map(|i| {
            (
                sql[sig[i.first].start..sig[i.end - 1].end].to_string(),
                i.aliased,
            )
        })
        .collect()
}

#[test]
fn select_list_items_and_aliases() {
    assert_eq!(
        items(
            "SELECT LAST_INSERT_ID(), LAST_INSERT_ID() + 1 AS y, f(a, b) z, 'x' FROM t WHERE a = 1"
        ),
        vec![
            ("LAST_INSERT_ID()".to_string(), false),
            ("LAST_INSERT_ID() + 1 AS y".to_string(), true),
            ("f(a, b) z".to_string(), true),
            ("'x'".to_string(), false),
        ]
    );
    assert_eq!(
        items("SELECT x IS NOT NULL, y COLLATE utf8mb4_bin, col alias"),
        vec![
            ("x IS NOT NULL".to_string(), false),
            ("y COLLATE utf8mb4_bin".to_string(), false),
            ("col alias".to_string(), true),
        ]
    );
    assert_eq!(
        items("SELECT DISTINCT a + b, CASE WHEN a THEN 1 END"),
        vec![
            ("a + b".to_string(), false),
            ("CASE WHEN a THEN 1 END".to_string(), false)
        ]
    );
}
