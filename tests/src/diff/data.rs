//! The differential suite's schema and its deterministic data.
//!
//! Database [`DB`] (utf8mb4: `mariadbd --no-defaults` would default to latin1) with
//! a sharded `users` and `orders` (shard key `user_id`), a broadcast `cities` and a
//! single `settings`. The gateway gets the DDL with the TDSQL `shardkey=` option, the
//! plain reference server the same text without it ([`Table::ddl`]). Rows come from
//! a seeded [`Rng`]: NULLs, unicode (é, 日本, emoji), quotes and backslashes, negative
//! and extreme numbers, decimals, zero and extreme dates.

use std::collections::BTreeSet;

use super::rng::Rng;

pub const DB: &str = "diffdb";
pub const CREATE_DB: &str =
    "CREATE DATABASE diffdb CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci";

pub struct Table {
    pub name: &'static str,
    /// `CREATE TABLE ...` without the shard option.
    pub body: &'static str,
    /// The TDSQL option (` shardkey=...`), empty for a single table.
    pub option: &'static str,
}

impl Table {
    /// The DDL for the gateway (`sharded`) or for the plain server.
    pub fn ddl(&self, sharded: bool) -> String {
        if sharded {
            format!("{}{}", self.body, self.option)
        } else {
            self.body.to_string()
        }
    }
}

pub const TABLES: [Table; 4] = [
    Table {
        name: "users",
        body: "CREATE TABLE users (user_id BIGINT PRIMARY KEY, name VARCHAR(64), \
               city VARCHAR(32), score INT, balance DECIMAL(12,2), born DATE, \
               created DATETIME(3), note TEXT NULL)",
        option: " shardkey=user_id",
    },
    Table {
        name: "orders",
        body: "CREATE TABLE orders (order_id BIGINT, user_id BIGINT, amount DECIMAL(10,2), \
               status VARCHAR(16), PRIMARY KEY(order_id, user_id))",
        option: " shardkey=user_id",
    },
    Table {
        name: "cities",
        body: "CREATE TABLE cities (name VARCHAR(32) PRIMARY KEY, country VARCHAR(32))",
        option: " shardkey=noshardkey_allset",
    },
    Table {
        name: "settings",
        body: "CREATE TABLE settings (k VARCHAR(32) PRIMARY KEY, v VARCHAR(64))",
        option: "",
    },
];

pub const USER_COLS: &str = "user_id, name, city, score, balance, born, created, note";
pub const ORDER_COLS: &str = "order_id, user_id, amount, status";

/// Key values every run has (edge cases of the integer shard key).
pub const SPECIAL_IDS: [i64; 13] = [
    0,
    -1,
    -7,
    -42,
    7,
    8,
    42,
    2_147_483_647,
    2_147_483_648,
    4_294_967_296,
    9_007_199_254_740_993,
    i64::MAX,
    i64::MIN,
];

const NAMES: [&str; 16] = [
    "alice",
    "Bob",
    "José",
    "Zoë",
    "Łukasz",
    "Ærø",
    "日本太郎",
    "山田",
    "O'Brien",
    "back\\slash",
    "emoji 🙂",
    "🎉party",
    "Ünïcödé",
    "  padded ",
    "tab\there",
    "",
];

pub const CITIES: [(&str, Option<&str>); 16] = [
    ("Paris", Some("France")),
    ("Zürich", Some("Switzerland")),
    ("São Paulo", Some("Brazil")),
    ("東京", Some("日本")),
    ("Kraków", Some("Poland")),
    ("New York", Some("USA")),
    ("Reykjavík", Some("Iceland")),
    ("Berlin", Some("Germany")),
    ("Köln", Some("Germany")),
    ("Montréal", Some("Canada")),
    ("Lagos", Some("Nigeria")),
    ("Mumbai", Some("India")),
    ("Seoul", Some("한국")),
    ("Cairo", None),
    ("Zanzibar 🌴", Some("Tanzania")),
    ("O'Fallon", Some("USA")),
];

pub const STATUSES: [&str; 6] = ["new", "paid", "shipped", "cancelled", "refunded", "日本"];

const NOTES: [&str; 8] = [
    "",
    "short",
    "line1\nline2",
    "emoji 🙂🙃",
    "日本語のテキスト",
    "50% off_",
    "quote ' and \" double",
    "trailing space ",
];

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub name: Option<String>,
    pub city: Option<String>,
    pub score: Option<i32>,
    pub balance: Option<String>,
    pub born: Option<String>,
    pub created: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub order_id: i64,
    pub user_id: i64,
    pub amount: Option<String>,
    pub status: Option<String>,
}

pub struct Data {
    pub users: Vec<User>,
    pub orders: Vec<Order>,
    pub settings: Vec<(String, Option<String>)>,
}

/// A SQL string literal (backslash escapes on, as in the default sql_mode).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `NULL` or the quoted string.
pub fn lit(v: &Option<String>) -> String {
    v.as_deref().map_or_else(|| "NULL".to_string(), quote)
}

/// `NULL` or the value as it is (numbers).
pub fn num<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "NULL".to_string(), T::to_string)
}

/// Cents as a DECIMAL literal: `-1234` → `-12.34`.
pub fn cents(c: i64) -> String {
    let sign = if c < 0 { "-" } else { "" };
    let a = c.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

fn date(rng: &mut Rng) -> String {
    match rng.below(40) {
        0 => "1000-01-01".into(),
        1 => "9999-12-31".into(),
        2 => "0000-00-00".into(),
        _ => format!(
            "{:04}-{:02}-{:02}",
            rng.range(1900, 2099),
            rng.range(1, 12),
            rng.range(1, 28)
        ),
    }
}

fn datetime(rng: &mut Rng) -> String {
    let ms = if rng.chance(20) { 0 } else { rng.range(0, 999) };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{ms:03}",
        rng.range(1970, 2037),
        rng.range(1, 12),
        rng.range(1, 28),
        rng.range(0, 23),
        rng.range(0, 59),
        rng.range(0, 59)
    )
}

impl User {
    pub fn random(rng: &mut Rng, id: i64, i: usize) -> Self {
        let name = (!rng.chance(5)).then(|| format!("{}{}", rng.pick(&NAMES), i % 37));
        let city = match rng.below(10) {
            0 => None,
            1 => Some("Atlantis".to_string()),
            2 => Some("paris".to_string()), // matches 'Paris' under a _ci collation
            _ => Some(rng.pick(&CITIES).0.to_string()),
        };
        let score = match rng.below(30) {
            0 => None,
            1 => Some(i32::MIN),
            2 => Some(i32::MAX),
            3 => Some(0),
            _ => Some(rng.range(-1000, 1000) as i32),
        };
        let balance = match rng.below(30) {
            0 => None,
            1 => Some("9999999999.99".to_string()),
            2 => Some("-9999999999.99".to_string()),
            3 => Some("0.00".to_string()),
            _ => Some(cents(rng.range(-500_000, 10_000_000))),
        };
        let born = (!rng.chance(10)).then(|| date(rng));
        let created = (!rng.chance(5)).then(|| datetime(rng));
        let note = match rng.below(10) {
            0..=3 => None,
            4 => Some("lorem ipsum é ".repeat(rng.range(5, 40) as usize)),
            _ => Some(rng.pick(&NOTES).to_string()),
        };
        User {
            id,
            name,
            city,
            score,
            balance,
            born,
            created,
            note,
        }
    }

    /// `(user_id, name, ...)` in [`USER_COLS`] order.
    pub fn values(&self) -> String {
        format!(
            "({}, {}, {}, {}, {}, {}, {}, {})",
            self.id,
            lit(&self.name),
            lit(&self.city),
            num(&self.score),
            num(&self.balance),
            lit(&self.born),
            lit(&self.created),
            lit(&self.note)
        )
    }
}

impl Order {
    pub fn random(rng: &mut Rng, order_id: i64, users: &[i64]) -> Self {
        let user_id = if rng.chance(8) {
            5_000_000 + rng.range(0, 50) // no such user
        } else {
            *rng.pick(users)
        };
        let amount = match rng.below(40) {
            0 | 1 => None,
            2 => Some("99999999.99".to_string()),
            3 => Some("-99999999.99".to_string()),
            _ => Some(cents(rng.range(-50_000, 200_000))),
        };
        let status = (!rng.chance(5)).then(|| rng.pick(&STATUSES).to_string());
        Order {
            order_id,
            user_id,
            amount,
            status,
        }
    }

    pub fn values(&self) -> String {
        format!(
            "({}, {}, {}, {})",
            self.order_id,
            self.user_id,
            num(&self.amount),
            lit(&self.status)
        )
    }
}

impl Data {
    /// About `n_users` users and `n_orders` orders from `seed`.
    pub fn generate(seed: u64, n_users: usize, n_orders: usize) -> Self {
        let mut rng = Rng::new(seed);
        let mut ids: BTreeSet<i64> = SPECIAL_IDS.into_iter().collect();
        let mut next = 1i64;
        while ids.len() < n_users {
            ids.insert(next);
            next += 1 + rng.range(0, 2);
        }
        let ids: Vec<i64> = ids.into_iter().collect();
        let users: Vec<User> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| User::random(&mut rng, id, i))
            .collect();
        let mut orders = Vec::with_capacity(n_orders);
        let mut seen = BTreeSet::new();
        for n in 0..n_orders as i64 {
            // Some order ids repeat for another user (the key is (order_id, user_id)).
            let order_id = if n > 10 && rng.chance(3) {
                rng.range(1, n)
            } else {
                n + 1
            };
            let o = Order::random(&mut rng, order_id, &ids);
            if seen.insert((o.order_id, o.user_id)) {
                orders.push(o);
            }
        }
        let settings = (1..=15)
            .map(|i| {
                let v = match rng.below(6) {
                    0 => None,
                    1 => Some(format!("日本-{i}")),
                    2 => Some(format!("on 🙂 {i}")),
                    _ => Some(format!("value-{}", rng.range(-100, 100))),
                };
                (format!("key{i:02}"), v)
            })
            .chain([("ünï".to_string(), Some("çà".to_string()))])
            .collect();
        Data {
            users,
            orders,
            settings,
        }
    }

    pub fn user_ids(&self) -> Vec<i64> {
        self.users.iter().map(|u| u.id).collect()
    }

    /// The multi-row INSERTs that load everything (`chunk` rows each). The first
    /// users chunk has no column list (the gateway must look the columns up).
    pub fn inserts(&self, chunk: usize) -> Vec<String> {
        let mut out = Vec::new();
        for (i, part) in self.users.chunks(chunk).enumerate() {
            let vals: Vec<String> = part.iter().map(User::values).collect();
            let cols = if i == 0 {
                String::new()
            } else {
                format!(" ({USER_COLS})")
            };
            out.push(format!(
                "INSERT INTO users{cols} VALUES {}",
                vals.join(", ")
            ));
        }
        for part in self.orders.chunks(chunk) {
            let vals: Vec<String> = part.iter().map(Order::values).collect();
            out.push(format!(
                "INSERT INTO orders ({ORDER_COLS}) VALUES {}",
                vals.join(", ")
            ));
        }
        let cities: Vec<String> = CITIES
            .iter()
            .map(|(n, c)| format!("({}, {})", quote(n), lit(&c.map(str::to_string))))
            .collect();
        out.push(format!(
            "INSERT INTO cities (name, country) VALUES {}",
            cities.join(", ")
        ));
        let settings: Vec<String> = self
            .settings
            .iter()
            .map(|(k, v)| format!("({}, {})", quote(k), lit(v)))
            .collect();
        out.push(format!(
            "INSERT INTO settings (k, v) VALUES {}",
            settings.join(", ")
        ));
        out
    }
}
