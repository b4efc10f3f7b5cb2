// MariaDB Connector/J against the Setwise gateway: text and server-side prepared
// statements, a transaction across sets, metadata. Exits non-zero on a mismatch.
// Usage: java -cp mariadb-java-client.jar:. JdbcClient PORT useServerPrepStmts
import java.math.BigDecimal;
import java.sql.*;

public class JdbcClient {
    static int failures = 0;

    static void check(boolean ok, String what) {
        System.out.println((ok ? "ok   " : "FAIL ") + what);
        if (!ok) failures++;
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:mariadb://127.0.0.1:" + args[0] + "/jdb?user=app&password=app&useServerPrepStmts=" + args[1];
        try (Connection c = DriverManager.getConnection(url)) {
            try (Statement s = c.createStatement()) {
                s.execute("DROP TABLE IF EXISTS acct");
                s.execute("CREATE TABLE acct (id BIGINT PRIMARY KEY, owner VARCHAR(32), bal DECIMAL(10,2)) shardkey=id");
            }
            try (PreparedStatement p = c.prepareStatement("INSERT INTO acct (id, owner, bal) VALUES (?, ?, ?)")) {
                for (int i = 1; i <= 20; i++) {
                    p.setLong(1, i);
                    p.setString(2, "owner-é-" + i);
                    p.setBigDecimal(3, new BigDecimal(i + ".25"));
                    p.addBatch();
                }
                int[] n = p.executeBatch();
                check(n.length == 20, "batch insert of 20 rows");
            }
            try (PreparedStatement p = c.prepareStatement("SELECT owner, bal FROM acct WHERE id = ?")) {
                p.setLong(1, 7);
                try (ResultSet r = p.executeQuery()) {
                    check(r.next() && r.getString(1).equals("owner-é-7") && r.getBigDecimal(2).equals(new BigDecimal("7.25")), "point select by shard key");
                }
            }
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT COUNT(*), SUM(bal), AVG(bal) FROM acct")) {
                check(r.next() && r.getLong(1) == 20 && r.getBigDecimal(2).equals(new BigDecimal("215.00"))
                        && r.getBigDecimal(3).compareTo(new BigDecimal("10.75")) == 0, "aggregates over every set");
            }
            try (PreparedStatement p = c.prepareStatement("SELECT id FROM acct ORDER BY bal DESC LIMIT ?")) {
                p.setInt(1, 3);
                try (ResultSet r = p.executeQuery()) {
                    StringBuilder b = new StringBuilder();
                    while (r.next()) b.append(r.getLong(1)).append(',');
                    check(b.toString().equals("20,19,18,"), "ORDER BY ... LIMIT ? merged: " + b);
                }
            }
            c.setAutoCommit(false);
            try (PreparedStatement p = c.prepareStatement("UPDATE acct SET bal = bal - ? WHERE id = ?")) {
                p.setBigDecimal(1, new BigDecimal("1.00")); p.setLong(2, 1); p.executeUpdate();
                p.setBigDecimal(1, new BigDecimal("1.00")); p.setLong(2, 2); p.executeUpdate();
            }
            c.rollback();
            c.setAutoCommit(true);
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT SUM(bal) FROM acct WHERE id IN (1, 2)")) {
                check(r.next() && r.getBigDecimal(1).equals(new BigDecimal("3.50")), "rolled-back transaction left nothing");
            }
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.executeUpdate("UPDATE acct SET bal = bal + 10 WHERE id = 1");
                s.executeUpdate("UPDATE acct SET bal = bal + 10 WHERE id = 2");
            }
            c.commit();
            c.setAutoCommit(true);
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT SUM(bal) FROM acct WHERE id IN (1, 2)")) {
                check(r.next() && r.getBigDecimal(1).equals(new BigDecimal("23.50")), "committed transaction across sets");
            }
            try (ResultSet r = c.getMetaData().getColumns("jdb", null, "acct", null)) {
                int n = 0;
                while (r.next()) n++;
                check(n == 3, "DatabaseMetaData.getColumns sees 3 columns: " + n);
            }
            try (Statement s = c.createStatement()) {
                s.executeQuery("SELECT nosuch FROM acct");
                check(false, "a bad column is an error");
            } catch (SQLException e) {
                check(e.getErrorCode() == 1054, "bad column gives 1054: " + e.getErrorCode());
            }
        }
        if (failures > 0) {
            System.out.println("FAILED: " + failures);
            System.exit(1);
        }
        System.out.println("ALL OK");
    }
}
