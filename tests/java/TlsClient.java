// MariaDB Connector/J over TLS against the Setwise gateway: verify-ca (the
// gateway's certificate signed by the given CA, any name) and verify-full (and
// naming 127.0.0.1). Connector/J 3 spells these sslMode=verify-ca|verify-full;
// 2.x (Debian's libmariadb-java) useSsl + serverSslCert [+ disableSslHostnameVerification].
// Usage: java -cp mariadb-java-client.jar:. TlsClient PORT USER CA.pem   (password = user)
import java.sql.*;

public class TlsClient {
    public static void main(String[] args) throws Exception {
        String base = "jdbc:mariadb://127.0.0.1:" + args[0] + "/?user=" + args[1] + "&password=" + args[1];
        int major = new org.mariadb.jdbc.Driver().getMajorVersion();
        int failures = 0;
        for (String mode : new String[] {"verify-ca", "verify-full"}) {
            String tls = major >= 3
                    ? "&sslMode=" + mode + "&serverSslCert=" + args[2]
                    : "&useSsl=true&serverSslCert=" + args[2]
                            + (mode.equals("verify-ca") ? "&disableSslHostnameVerification=true" : "");
            try (Connection c = DriverManager.getConnection(base + tls);
                 Statement s = c.createStatement()) {
                ResultSet r = s.executeQuery("SELECT 6 * 7");
                boolean ok = r.next() && r.getLong(1) == 42;
                r = s.executeQuery("SHOW STATUS LIKE 'Ssl_cipher'");
                String cipher = r.next() ? r.getString(2) : "";
                ok = ok && !cipher.isEmpty();
                System.out.println((ok ? "ok   " : "FAIL ") + mode + " (Connector/J " + major + "): cipher " + cipher);
                if (!ok) failures++;
            }
        }
        if (failures > 0) System.exit(1);
        System.out.println("ALL OK");
    }
}
