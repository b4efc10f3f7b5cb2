// One application's session through go-sql-driver/mysql (Debian's
// golang-github-go-sql-driver-mysql-dev), printed one line per outcome so that a
// run against the gateway and a run against one plain MariaDB can be compared
// line by line (tests/tests/clients_more.rs). The driver's defaults: server-side
// prepared statements for queries with arguments, utf8mb4 unless `charset` is set.
//
//	go run check.go -dsn 'user:pass@tcp(127.0.0.1:PORT)/' -suffix ' shardkey=id'
package main

import (
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/go-sql-driver/mysql"
)

var db *sql.DB

func out(format string, a ...interface{}) { fmt.Printf(format+"\n", a...) }

func fail(what string, err error) {
	out("FATAL %s: %v", what, err)
	os.Exit(1)
}

func exec(q string, args ...interface{}) sql.Result {
	r, err := db.Exec(q, args...)
	if err != nil {
		fail(q, err)
	}
	return r
}

// rows prints every row of q (values as the driver scanned them) and the column types.
func rows(label, q string, args ...interface{}) {
	rs, err := db.Query(q, args...)
	if err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			out("%s error %d %s", label, me.Number, me.Message)
			return
		}
		fail(q, err)
	}
	defer rs.Close()
	types, _ := rs.ColumnTypes()
	var cols []string
	for _, t := range types {
		nullable, _ := t.Nullable()
		p, s, ok := t.DecimalSize()
		cols = append(cols, fmt.Sprintf("%s:%s:%v:%v:%d,%d", t.Name(), t.DatabaseTypeName(), nullable, ok, p, s))
	}
	out("%s columns %s", label, strings.Join(cols, " "))
	n := 0
	for rs.Next() {
		vals := make([]interface{}, len(types))
		ptrs := make([]interface{}, len(types))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			fail(q, err)
		}
		var parts []string
		for _, v := range vals {
			switch x := v.(type) {
			case nil:
				parts = append(parts, "NULL")
			case []byte:
				parts = append(parts, fmt.Sprintf("%q", string(x)))
			default:
				parts = append(parts, fmt.Sprintf("%T(%v)", x, x))
			}
		}
		out("%s row %s", label, strings.Join(parts, " "))
		n++
	}
	if err := rs.Err(); err != nil {
		fail(q, err)
	}
	out("%s count %d", label, n)
}

func errOf(label string, err error) {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		out("%s error %d %s", label, me.Number, me.Message)
	} else {
		out("%s error %v", label, err)
	}
}

func main() {
	dsn := flag.String("dsn", "", "DSN without a database")
	suffix := flag.String("suffix", "", "table option of the sharded table (gateway: shardkey=id)")
	flag.Parse()
	var err error
	db, err = sql.Open("mysql", *dsn+"?parseTime=false")
	if err != nil {
		fail("open", err)
	}
	db.SetMaxOpenConns(4)
	defer db.Close()

	exec("DROP DATABASE IF EXISTS go_client")
	exec("CREATE DATABASE go_client")
	exec("CREATE TABLE go_client.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, " +
		"name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, " +
		"amount DECIMAL(12,2), created DATETIME(3), flag TINYINT(1), note TEXT, score DOUBLE)" + *suffix)
	names := []string{"Alice", "bob", "O'Brien", "Zoë", "🦀 crab", "alice", "Bob", "", "x\\y", "Ümit"}
	for i := 0; i < 30; i++ {
		var note interface{}
		if i%4 != 0 {
			note = fmt.Sprintf("note %d", i)
		}
		r := exec("INSERT INTO go_client.t (name, amount, created, flag, note, score) VALUES (?, ?, ?, ?, ?, ?)",
			names[i%len(names)], fmt.Sprintf("%d.%02d", i*37%1000, i%100),
			fmt.Sprintf("2026-01-%02d 10:%02d:00.%03d", i%28+1, i%60, i*7%1000), i%2, note, float64(i)/3)
		id, err := r.LastInsertId()
		if err != nil {
			fail("LastInsertId", err)
		}
		n, _ := r.RowsAffected()
		out("insert %d id %d affected %d", i, id, n)
	}
	r := exec("INSERT INTO go_client.t (name, amount) VALUES ('m1', 1), ('m2', 2), ('m3', 3)")
	id, _ := r.LastInsertId()
	n, _ := r.RowsAffected()
	out("multi insert id %d affected %d", id, n)

	rows("page", "SELECT id, name, amount, created, flag, note, score FROM go_client.t ORDER BY id LIMIT ? OFFSET ?", 7, 5)
	rows("by name", "SELECT id, name FROM go_client.t WHERE name = ? ORDER BY id", "ALICE")
	rows("by names", "SELECT name, COUNT(*) AS n, SUM(amount) AS total, MIN(created) AS first, AVG(score) AS avg_score FROM go_client.t GROUP BY name ORDER BY name")
	rows("totals", "SELECT COUNT(*), SUM(amount), MAX(id), COUNT(note), GROUP_CONCAT(id ORDER BY id) FROM go_client.t WHERE flag = ?", 1)
	rows("in", "SELECT id, amount FROM go_client.t WHERE id IN (?, ?, ?) ORDER BY amount DESC, id", 3, 17, 29)
	rows("having", "SELECT flag, COUNT(*) c FROM go_client.t GROUP BY flag HAVING c > ? ORDER BY flag", 2)
	rows("distinct", "SELECT DISTINCT name FROM go_client.t ORDER BY name DESC LIMIT 4")
	rows("text protocol", "SELECT id, name, amount FROM go_client.t WHERE id BETWEEN 10 AND 14 ORDER BY id")

	// A transaction with a savepoint, on one connection.
	tx, err := db.Begin()
	if err != nil {
		fail("begin", err)
	}
	mustTx := func(q string, args ...interface{}) int64 {
		r, err := tx.Exec(q, args...)
		if err != nil {
			fail(q, err)
		}
		n, _ := r.RowsAffected()
		return n
	}
	out("tx update %d", mustTx("UPDATE go_client.t SET amount = amount + ? WHERE flag = ?", 1, 0))
	mustTx("SAVEPOINT s1")
	out("tx delete %d", mustTx("DELETE FROM go_client.t WHERE id > ?", 20))
	mustTx("ROLLBACK TO SAVEPOINT s1")
	mustTx("SET @x = 41")
	var x int64
	if err := tx.QueryRow("SELECT @x + ?", 1).Scan(&x); err != nil {
		fail("select @x", err)
	}
	out("tx session variable %d", x)
	if err := tx.Commit(); err != nil {
		fail("commit", err)
	}
	rows("after tx", "SELECT COUNT(*), SUM(amount) FROM go_client.t")

	tx, _ = db.Begin()
	mustTx("DELETE FROM go_client.t")
	if err := tx.Rollback(); err != nil {
		fail("rollback", err)
	}
	rows("after rollback", "SELECT COUNT(*) FROM go_client.t")

	// Errors: code and SQLSTATE.
	_, err = db.Exec("INSERT INTO go_client.t (id, name) VALUES (?, ?)", 1, "dup")
	errOf("duplicate", err)
	_, err = db.Exec("SELEC 1")
	errOf("syntax", err)
	_, err = db.Query("SELECT nope FROM go_client.t WHERE id = ?", 1)
	errOf("unknown column", err)

	// A prepared statement run many times.
	st, err := db.Prepare("SELECT name, amount FROM go_client.t WHERE id = ?")
	if err != nil {
		fail("prepare", err)
	}
	var sum float64
	for i := 1; i <= 33; i++ {
		var name sql.NullString
		var amount sql.NullFloat64
		if err := st.QueryRow(i).Scan(&name, &amount); err != nil {
			fail("stmt", err)
		}
		sum += amount.Float64
	}
	st.Close()
	out("prepared sum %.2f", sum)
	exec("DROP DATABASE go_client")
	out("ALL DONE")
}
