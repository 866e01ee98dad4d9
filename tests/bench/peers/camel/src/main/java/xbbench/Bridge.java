/* Bridge.java — the Apache Camel peer of tests/bench/run (issue #8): the route a bank integration
 * team would build instead of xborder, on the same broker, topic and receiver.
 *
 * Owns: one Camel route, camel-kafka -> XSLT (Saxon, mask.xsl) -> camel-http (mutual TLS), and the
 * x:pseudo extension function (HMAC-SHA-256, 16 base32 characters, IBANs keep their country: the
 * same pseudonyms as the Python peer). The Idempotency-Key is the lower-case UETR, as xborder's.
 * Never: does xborder's classification, audit or settlement; it is the baseline, not a copy.
 *
 * usage: java -cp target/classes:target/lib/* xbbench.Bridge BOOTSTRAP TOPIC GROUP URL
 *        KEYSTORE.p12 TRUSTSTORE.p12 STOREPASS HMAC_KEY_FILE CONSUMERS
 */
package xbbench;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import net.sf.saxon.expr.XPathContext;
import net.sf.saxon.lib.ExtensionFunctionCall;
import net.sf.saxon.lib.ExtensionFunctionDefinition;
import net.sf.saxon.om.Sequence;
import net.sf.saxon.om.StructuredQName;
import net.sf.saxon.trans.XPathException;
import net.sf.saxon.value.SequenceType;
import net.sf.saxon.value.StringValue;
import org.apache.camel.Exchange;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.component.http.HttpClientConfigurer;
import org.apache.camel.main.Main;
import org.apache.camel.support.jsse.KeyManagersParameters;
import org.apache.camel.support.jsse.KeyStoreParameters;
import org.apache.camel.support.jsse.SSLContextParameters;
import org.apache.camel.support.jsse.TrustManagersParameters;

public final class Bridge {
    private static final Pattern UETR = Pattern.compile("<(?:\\w+:)?UETR>\\s*([^<\\s]+)\\s*<");

    /** x:pseudo(domain, value): HMAC-SHA-256 over domain NUL normalised-value. */
    public static final class Pseudo extends ExtensionFunctionDefinition {
        private final byte[] key;
        private final ThreadLocal<Mac> mac;

        Pseudo(byte[] key) {
            this.key = key;
            this.mac = ThreadLocal.withInitial(() -> {
                try {
                    Mac m = Mac.getInstance("HmacSHA256");
                    m.init(new SecretKeySpec(this.key, "HmacSHA256"));
                    return m;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
        }

        @Override
        public StructuredQName getFunctionQName() {
            return new StructuredQName("x", "urn:xborder:bench", "pseudo");
        }

        @Override
        public SequenceType[] getArgumentTypes() {
            return new SequenceType[] {SequenceType.SINGLE_STRING, SequenceType.SINGLE_STRING};
        }

        @Override
        public SequenceType getResultType(SequenceType[] args) {
            return SequenceType.SINGLE_STRING;
        }

        String pseudo(String domain, String value) {
            boolean iban = domain.equals("iban");
            String norm = value.trim().replaceAll("\\s+", " ").toUpperCase(Locale.ROOT);
            if (iban)
                norm = norm.replace(" ", "");
            Mac m = mac.get();
            m.update((iban ? "acct" : domain).getBytes(StandardCharsets.UTF_8));
            m.update((byte) 0);
            byte[] d = m.doFinal(norm.getBytes(StandardCharsets.UTF_8));
            String b32 = base32(d, 16);
            if (!iban)
                return b32;
            String cc = norm.length() >= 2 && Character.isLetter(norm.charAt(0))
                    && Character.isLetter(norm.charAt(1)) ? norm.substring(0, 2) : "XX";
            return String.format("%s%02d%s", cc, (d[20] & 0xff) % 100, b32);
        }

        @Override
        public ExtensionFunctionCall makeCallExpression() {
            return new ExtensionFunctionCall() {
                @Override
                public Sequence call(XPathContext ctx, Sequence[] args) throws XPathException {
                    return new StringValue(pseudo(args[0].head().getStringValue(),
                            args[1].head().getStringValue()));
                }
            };
        }
    }

    static String base32(byte[] b, int nchars) {
        final String alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        StringBuilder sb = new StringBuilder(nchars);
        for (int i = 0; i < nchars; i++) {
            int bit = i * 5, byt = bit / 8, off = bit % 8;
            int v = (((b[byt] & 0xff) << 8) | (b[byt + 1] & 0xff)) >> (11 - off);
            sb.append(alpha.charAt(v & 31));
        }
        return sb.toString();
    }

    /** The idempotency key: the first UETR, lower case (as xborder sends it). */
    public static String uetr(String body) {
        Matcher m = UETR.matcher(body);
        return m.find() ? m.group(1).toLowerCase(Locale.ROOT) : null;
    }

    public static void main(String[] a) throws Exception {
        String bootstrap = a[0], topic = a[1], group = a[2], url = a[3];
        String keystore = a[4], truststore = a[5], pass = a[6];
        byte[] hmacKey = Files.readAllBytes(Path.of(a[7]));
        int consumers = Integer.parseInt(a[8]);

        KeyStoreParameters ks = new KeyStoreParameters();
        ks.setResource("file:" + keystore);
        ks.setPassword(pass);
        ks.setType("PKCS12");
        KeyManagersParameters km = new KeyManagersParameters();
        km.setKeyStore(ks);
        km.setKeyPassword(pass);
        KeyStoreParameters ts = new KeyStoreParameters();
        ts.setResource("file:" + truststore);
        ts.setPassword(pass);
        ts.setType("PKCS12");
        TrustManagersParameters tm = new TrustManagersParameters();
        tm.setKeyStore(ts);
        SSLContextParameters ssl = new SSLContextParameters();
        ssl.setKeyManagers(km);
        ssl.setTrustManagers(tm);

        Main main = new Main();
        main.bind("ssl", ssl);
        main.bind("pseudo", new Pseudo(hmacKey));
        /* With a client certificate HttpClient 5 marks each connection with the TLS principal and
         * never hands it to a request without that state: every POST would open a new TLS
         * connection (the first profile of this peer showed exactly that). Stateless connections
         * let the pool reuse them, as any tuned deployment would. */
        main.bind("keepalive", (HttpClientConfigurer) b -> b.disableConnectionState());
        main.configure().addRoutesBuilder(new RouteBuilder() {
            @Override
            public void configure() {
                from("kafka:" + topic + "?brokers=" + bootstrap + "&groupId=" + group
                        + "&autoOffsetReset=earliest&maxPollRecords=500&consumersCount=" + consumers)
                        .routeId("xborder-peer")
                        .convertBodyTo(String.class)
                        .setVariable("idem", method(Bridge.class, "uetr"))
                        .to("xslt-saxon:mask.xsl?saxonExtensionFunctions=#pseudo")
                        .removeHeaders("*")
                        .setHeader("Idempotency-Key", variable("idem"))
                        .setHeader(Exchange.HTTP_METHOD, constant("POST"))
                        .setHeader(Exchange.CONTENT_TYPE, constant("application/xml"))
                        .to(url + "?sslContextParameters=#ssl&httpClientConfigurer=#keepalive");
            }
        });
        main.run();
    }
}
