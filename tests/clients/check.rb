# One application's session through Ruby's mysql2 gem (Debian's ruby-mysql2; the
# driver Rails uses), printed one line per outcome so that a run against the
# gateway and a run against one plain MariaDB can be compared line by line
# (tests/tests/clients_more.rs). mysql2 casts values to Ruby types itself.
#
#   ruby check.rb HOST PORT USER PASSWORD 'SUFFIX'
require 'mysql2'
require 'json'

host, port, user, pass, suffix = ARGV
c = Mysql2::Client.new(host: host, port: port.to_i, username: user, password: pass,
                       encoding: 'utf8mb4')

def show(label, res)
  puts "#{label} columns #{res.fields.join(' ')}"
  n = 0
  res.each(as: :array) do |row|
    vals = row.is_a?(Hash) ? row.values : row # a prepared statement's result ignores `as:`
    puts "#{label} row " + vals.map { |v| "#{v.class}:#{v.nil? ? 'NULL' : v.to_s}" }.join(' | ')
    n += 1
  end
  puts "#{label} count #{n}"
end

c.query('DROP DATABASE IF EXISTS rb_client')
c.query('CREATE DATABASE rb_client')
c.query('CREATE TABLE rb_client.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, ' \
        'name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, amount DECIMAL(12,2), ' \
        'created DATETIME(3), flag TINYINT(1), note TEXT, score DOUBLE)' + suffix.to_s)
names = ['Alice', 'bob', "O'Brien", 'Zoë', '🦀 crab', 'alice', 'Bob', '', 'x\\y', 'Ümit']
ins = c.prepare('INSERT INTO rb_client.t (name, amount, created, flag, note, score) VALUES (?, ?, ?, ?, ?, ?)')
30.times do |i|
  ins.execute(names[i % names.size], format('%d.%02d', i * 37 % 1000, i % 100),
              format('2026-01-%02d 10:%02d:00.%03d', i % 28 + 1, i % 60, i * 7 % 1000),
              i % 2, i % 4 == 0 ? nil : "note #{i}", i / 3.0)
  puts "insert #{i} id #{ins.last_id} affected #{ins.affected_rows}"
end
c.query("INSERT INTO rb_client.t (name, amount) VALUES ('m1', 1), ('m2', 2), ('m3', 3)")
puts "multi insert id #{c.last_id} affected #{c.affected_rows}"

page = c.prepare('SELECT id, name, amount, created, flag, note, score FROM rb_client.t ORDER BY id LIMIT ? OFFSET ?')
show('page (binary)', page.execute(7, 5))
show('page (text)', c.query('SELECT id, name, amount, created, flag, note, score FROM rb_client.t ORDER BY id LIMIT 7 OFFSET 5'))
show('by name', c.query("SELECT id, name FROM rb_client.t WHERE name = 'ALICE' ORDER BY id"))
show('by names', c.query('SELECT name, COUNT(*) AS n, SUM(amount) AS total, MIN(created) AS first, ' \
                         'AVG(score) AS avg_score FROM rb_client.t GROUP BY name ORDER BY name'))
show('totals', c.query('SELECT COUNT(*), SUM(amount), MAX(id), COUNT(note) FROM rb_client.t WHERE flag = 1'))
show('subquery', c.query('SELECT id, amount FROM rb_client.t WHERE amount > (SELECT AVG(amount) FROM rb_client.t) ' \
                         'ORDER BY amount DESC, id LIMIT 5'))

c.query('BEGIN')
c.query('UPDATE rb_client.t SET amount = amount + 1 WHERE flag = 0')
puts "tx update #{c.affected_rows}"
c.query('SAVEPOINT s1')
c.query('DELETE FROM rb_client.t WHERE id > 20')
puts "tx delete #{c.affected_rows}"
c.query('ROLLBACK TO SAVEPOINT s1')
c.query('SET @x = 41')
show('tx variable', c.query('SELECT @x + 1 AS y'))
c.query('COMMIT')
show('after tx', c.query('SELECT COUNT(*), SUM(amount) FROM rb_client.t'))

["INSERT INTO rb_client.t (id, name) VALUES (1, 'dup')", 'SELEC 1', 'SELECT nope FROM rb_client.t'].each do |bad|
  begin
    c.query(bad)
    puts 'error none'
  rescue Mysql2::Error => e
    puts "error #{e.error_number} #{e.sql_state}"
  end
end
c.query('DROP DATABASE rb_client')
puts 'ALL DONE'
