<?php
// One application's session through PHP's mysqli (server-side prepared
// statements) and PDO (its default: prepares emulated on the client), printed
// one line per outcome so that a run against the gateway and a run against one
// plain MariaDB can be compared line by line (tests/tests/clients_more.rs).
//
//   php check.php HOST PORT USER PASSWORD 'SUFFIX'
mysqli_report(MYSQLI_REPORT_OFF);
[$_, $host, $port, $user, $pass, $suffix] = $argv;

function out(string $s): void { echo $s, "\n"; }
function fatal(string $what, $e): void { out("FATAL $what: $e"); exit(1); }

$m = new mysqli($host, $user, $pass, '', (int)$port);
if ($m->connect_errno) fatal('connect', $m->connect_error);
$m->set_charset('utf8mb4');
function q(mysqli $m, string $sql) {
    $r = $m->query($sql);
    if ($r === false) fatal($sql, $m->errno . ' ' . $m->error);
    return $r;
}
function show(string $label, $res): void {
    $cols = [];
    foreach ($res->fetch_fields() as $f) {
        $cols[] = "$f->name:$f->type:$f->length:$f->flags:$f->decimals:$f->charsetnr";
    }
    out("$label columns " . implode(' ', $cols));
    $n = 0;
    while ($row = $res->fetch_row()) {
        out("$label row " . json_encode($row, JSON_UNESCAPED_UNICODE));
        $n++;
    }
    out("$label count $n");
}

q($m, 'DROP DATABASE IF EXISTS php_client');
q($m, 'CREATE DATABASE php_client');
q($m, 'CREATE TABLE php_client.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, '
    . 'name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, amount DECIMAL(12,2), '
    . 'created DATETIME(3), flag TINYINT(1), note TEXT, score DOUBLE)' . $suffix);
$names = ['Alice', 'bob', "O'Brien", 'Zoë', '🦀 crab', 'alice', 'Bob', '', 'x\\y', 'Ümit'];
$ins = $m->prepare('INSERT INTO php_client.t (name, amount, created, flag, note, score) VALUES (?, ?, ?, ?, ?, ?)');
if (!$ins) fatal('prepare insert', $m->error);
for ($i = 0; $i < 30; $i++) {
    $name = $names[$i % count($names)];
    $amount = sprintf('%d.%02d', $i * 37 % 1000, $i % 100);
    $created = sprintf('2026-01-%02d 10:%02d:00.%03d', $i % 28 + 1, $i % 60, $i * 7 % 1000);
    $flag = $i % 2;
    $note = $i % 4 ? "note $i" : null;
    $score = $i / 3;
    $ins->bind_param('sssisd', $name, $amount, $created, $flag, $note, $score);
    if (!$ins->execute()) fatal('insert', $ins->errno . ' ' . $ins->error);
    out("insert $i id {$ins->insert_id} affected {$ins->affected_rows}");
}
$ins->close();
q($m, "INSERT INTO php_client.t (name, amount) VALUES ('m1', 1), ('m2', 2), ('m3', 3)");
out("multi insert id {$m->insert_id} affected {$m->affected_rows}");

$st = $m->prepare('SELECT id, name, amount, created, flag, note, score FROM php_client.t ORDER BY id LIMIT ? OFFSET ?');
$lim = 7; $off = 5;
$st->bind_param('ii', $lim, $off);
$st->execute();
show('page (binary)', $st->get_result());
$st->close();
show('by names', q($m, 'SELECT name, COUNT(*) AS n, SUM(amount) AS total, MIN(created) AS first, AVG(score) AS avg_score '
    . 'FROM php_client.t GROUP BY name ORDER BY name'));
show('totals', q($m, 'SELECT COUNT(*), SUM(amount), MAX(id), COUNT(note), GROUP_CONCAT(id ORDER BY id) FROM php_client.t WHERE flag = 1'));
show('distinct', q($m, 'SELECT DISTINCT name FROM php_client.t ORDER BY name DESC LIMIT 4'));
show('case', q($m, "SELECT id, CASE WHEN amount > 500 THEN 'big' ELSE 'small' END AS size, COALESCE(note, '-') AS n "
    . 'FROM php_client.t WHERE id < 8 ORDER BY id'));

// A transaction with a savepoint.
$m->begin_transaction();
q($m, 'UPDATE php_client.t SET amount = amount + 1 WHERE flag = 0');
out("tx update {$m->affected_rows}");
q($m, 'SAVEPOINT s1');
q($m, 'DELETE FROM php_client.t WHERE id > 20');
out("tx delete {$m->affected_rows}");
q($m, 'ROLLBACK TO SAVEPOINT s1');
q($m, 'SET @x = 41');
show('tx variable', q($m, 'SELECT @x + 1 AS y'));
$m->commit();
show('after tx', q($m, 'SELECT COUNT(*), SUM(amount) FROM php_client.t'));

// Errors: code and SQLSTATE.
foreach (["INSERT INTO php_client.t (id, name) VALUES (1, 'dup')", 'SELEC 1', 'SELECT nope FROM php_client.t'] as $bad) {
    $m->query($bad);
    out("error {$m->errno} {$m->sqlstate}");
}

// PDO, with its default emulated prepares, and with native ones.
foreach ([true, false] as $emulate) {
    $pdo = new PDO("mysql:host=$host;port=$port;dbname=php_client;charset=utf8mb4", $user, $pass, [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_EMULATE_PREPARES => $emulate,
    ]);
    $label = $emulate ? 'pdo emulated' : 'pdo native';
    $s = $pdo->prepare('SELECT id, name, amount FROM t WHERE name = :n OR id = :id ORDER BY id LIMIT :lim');
    $s->bindValue(':n', 'BOB');
    $s->bindValue(':id', 3, PDO::PARAM_INT);
    $s->bindValue(':lim', 5, PDO::PARAM_INT);
    $s->execute();
    for ($i = 0; $i < $s->columnCount(); $i++) {
        $meta = $s->getColumnMeta($i);
        out("$label column {$meta['name']} {$meta['native_type']} {$meta['len']} {$meta['precision']}");
    }
    foreach ($s->fetchAll(PDO::FETCH_NUM) as $row) {
        out("$label row " . json_encode($row, JSON_UNESCAPED_UNICODE));
    }
    $pdo->beginTransaction();
    $pdo->exec("INSERT INTO t (name) VALUES ('pdo')");
    out("$label last id " . $pdo->lastInsertId());
    $pdo->rollBack();
    try {
        $pdo->exec("INSERT INTO t (id) VALUES (2)");
    } catch (PDOException $e) {
        out("$label error {$e->getCode()} {$e->errorInfo[1]}");
    }
}
q($m, 'DROP DATABASE php_client');
out('ALL DONE');
