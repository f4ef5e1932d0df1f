// Helper of e2e/tools/kafka.sh, compiled by `kafka.sh install` against the broker's own
// kafka-clients jar. Two commands:
//
//   KafkaProbe ports COUNT
//       Prints COUNT distinct loopback ports that are free now, picked below the kernel's
//       ephemeral range so that outgoing connections do not take them while a killed broker
//       is down (the broker restarts on the same ports).
//
//   KafkaProbe ready --timeout SECONDS [--pid PID] --bootstrap HOST:PORT
//                    [--sasl HOST:PORT USER PASSWORD]
//       Waits until a DescribeCluster and a ListTopics request (metadata) succeed on every given
//       listener, the SASL one authenticated with SASL/PLAIN. Exits 0 when ready, 2 on timeout,
//       3 as soon as process PID is gone (the broker died), with the last error on stderr.

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.common.Node;

public final class KafkaProbe {
  private KafkaProbe() {}

  public static void main(String[] args) throws Exception {
    if (args.length >= 2 && args[0].equals("ports")) {
      ports(Integer.parseInt(args[1]));
    } else if (args.length >= 1 && args[0].equals("ready")) {
      System.exit(ready(args));
    } else {
      System.err.println("usage: KafkaProbe ports COUNT | KafkaProbe ready --timeout S [--pid P]"
          + " --bootstrap HOST:PORT [--sasl HOST:PORT USER PASSWORD]");
      System.exit(64);
    }
  }

  private static void ports(int count) throws IOException {
    int ephemeralLow = 32768;
    try {
      String[] range = readProcFile("/proc/sys/net/ipv4/ip_local_port_range").trim().split("\\s+");
      ephemeralLow = Integer.parseInt(range[0]);
    } catch (IOException | RuntimeException e) {
      // keep the Linux default
    }
    int low = 20000;
    int high = ephemeralLow;
    if (high - low < 1000) { // an unusual ephemeral range: any unprivileged port will do
      low = 10000;
      high = 65000;
    }
    Random random = new Random();
    Set<Integer> chosen = new LinkedHashSet<>();
    for (int attempt = 0; attempt < 10000 && chosen.size() < count; attempt++) {
      int port = low + random.nextInt(high - low);
      if (chosen.contains(port)) {
        continue;
      }
      try (ServerSocket socket = new ServerSocket()) {
        socket.setReuseAddress(false);
        socket.bind(new InetSocketAddress("127.0.0.1", port));
        chosen.add(port);
      } catch (IOException busy) {
        // taken: try another
      }
    }
    if (chosen.size() < count) {
      throw new IOException("found only " + chosen.size() + " free ports in " + low + "-" + high);
    }
    StringBuilder line = new StringBuilder();
    for (int port : chosen) {
      line.append(line.length() == 0 ? "" : " ").append(port);
    }
    System.out.println(line);
  }

  private static final class Listener {
    final String name;
    final Properties properties = new Properties();
    Admin admin;

    Listener(String name, String bootstrap) {
      this.name = name + " " + bootstrap;
      properties.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      properties.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
      properties.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
      properties.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "100");
      properties.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
      properties.put(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, "100");
      properties.put(AdminClientConfig.RETRY_BACKOFF_MAX_MS_CONFIG, "500");
    }

    /** Throws unless the listener answers metadata requests and lists at least one broker. */
    String check() throws Exception {
      if (admin == null) {
        admin = Admin.create(properties);
      }
      DescribeClusterResult cluster = admin.describeCluster();
      List<Node> nodes = new ArrayList<>(cluster.nodes().get(6, TimeUnit.SECONDS));
      Node controller = cluster.controller().get(6, TimeUnit.SECONDS);
      String clusterId = cluster.clusterId().get(6, TimeUnit.SECONDS);
      if (nodes.isEmpty()) {
        throw new IllegalStateException("the cluster lists no broker yet");
      }
      admin.listTopics().names().get(6, TimeUnit.SECONDS);
      return name + ": cluster " + clusterId + ", brokers " + nodes + ", controller " + controller;
    }

    void close() {
      if (admin != null) {
        admin.close(java.time.Duration.ofSeconds(2));
        admin = null;
      }
    }
  }

  /** Files.readString trusts the size /proc reports (0) and can return a truncated text. */
  private static String readProcFile(String path) throws IOException {
    try (InputStream in = Files.newInputStream(Path.of(path))) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static boolean processIsAlive(long pid) {
    try {
      String stat = readProcFile("/proc/" + pid + "/stat");
      // The state is the first field after the parenthesised command name.
      int end = stat.lastIndexOf(')');
      if (end < 0) {
        return true; // unreadable format: do not claim the broker died
      }
      String state = stat.substring(end + 2, end + 3);
      return !state.equals("Z") && !state.equals("X");
    } catch (IOException | RuntimeException gone) {
      return false;
    }
  }

  private static int ready(String[] args) throws InterruptedException {
    long timeoutSeconds = 120;
    long pid = -1;
    List<Listener> listeners = new ArrayList<>();
    for (int i = 1; i < args.length; i++) {
      switch (args[i]) {
        case "--timeout":
          timeoutSeconds = Long.parseLong(args[++i]);
          break;
        case "--pid":
          pid = Long.parseLong(args[++i]);
          break;
        case "--bootstrap":
          listeners.add(new Listener("PLAINTEXT", args[++i]));
          break;
        case "--sasl": {
          Listener sasl = new Listener("SASL_PLAINTEXT", args[++i]);
          String user = args[++i];
          String password = args[++i];
          sasl.properties.put("security.protocol", "SASL_PLAINTEXT");
          sasl.properties.put("sasl.mechanism", "PLAIN");
          sasl.properties.put("sasl.jaas.config",
              "org.apache.kafka.common.security.plain.PlainLoginModule required username=\""
                  + user + "\" password=\"" + password + "\";");
          listeners.add(sasl);
          break;
        }
        default:
          System.err.println("KafkaProbe ready: unknown argument " + args[i]);
          return 64;
      }
    }
    if (listeners.isEmpty()) {
      System.err.println("KafkaProbe ready: no listener given");
      return 64;
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    String lastError = "no attempt made";
    try {
      List<String> reports = new ArrayList<>();
      for (Listener listener : listeners) {
        while (true) {
          if (pid > 0 && !processIsAlive(pid)) {
            System.err.println("the broker process " + pid + " exited before it was ready"
                + " (last probe error: " + lastError + ")");
            return 3;
          }
          try {
            reports.add(listener.check());
            break;
          } catch (Exception e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            lastError = listener.name + ": " + cause;
            if (cause instanceof org.apache.kafka.common.errors.AuthenticationException) {
              // A half-started broker does not refuse credentials; this is final.
              System.err.println("authentication refused: " + lastError);
              return 4;
            }
          }
          if (System.nanoTime() > deadline) {
            System.err.println("not ready within " + timeoutSeconds + "s; last error: " + lastError);
            return 2;
          }
          Thread.sleep(250);
        }
      }
      for (String report : reports) {
        System.err.println("ready: " + report);
      }
      return 0;
    } finally {
      for (Listener listener : listeners) {
        listener.close();
      }
    }
  }
}
