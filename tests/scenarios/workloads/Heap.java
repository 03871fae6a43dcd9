// SPDX-License-Identifier: MIT
// A Java service: "live" keeps LIVE_MB in 64 KiB arrays and churns garbage for SECONDS; "leak" does a
// job of SECONDS while leaking RATE_MB per second, keeping its progress in STATE across restarts (a
// SIGTERM saves it). Prints "done: ..." on success.
//
//   java -cp DIR Heap live LIVE_MB SECONDS
//   java -cp DIR Heap leak RATE_MB JOB_MB STATE
import java.nio.file.*;
import java.util.ArrayList;

public class Heap {
    static volatile double progress;
    static String state;

    static void save() {
        try {
            Path tmp = Paths.get(state + ".tmp");
            Files.writeString(tmp, String.format("%.3f%n", progress));
            Files.move(tmp, Paths.get(state), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (Exception e) {
        }
    }

    public static void main(String[] a) throws Exception {
        if (a[0].equals("live")) {
            int liveMb = Integer.parseInt(a[1]);
            long end = System.nanoTime() + (long) (Double.parseDouble(a[2]) * 1e9);
            byte[][] live = new byte[liveMb * 16][];
            for (int i = 0; i < live.length; i++) { live[i] = new byte[65536]; live[i][0] = (byte) i; }
            long sum = 0;
            for (int i = 0; System.nanoTime() < end; i++) {
                for (int k = 0; k < live.length / 64; k++) {
                    int j = (i * (live.length / 64) + k) % live.length;
                    byte[] b = new byte[65536]; b[0] = (byte) j; live[j] = b;
                }
                for (int k = 0; k < 32; k++) { byte[] g = new byte[262144]; g[k] = 1; sum += g.length; }
            }
            long check = 0;
            for (int i = 0; i < live.length; i++) {
                if (live[i][0] != (byte) i) { System.out.println("Heap: live object corrupted"); System.exit(1); }
                check += live[i][0];
            }
            System.out.println("done: checksum " + check);
            return;
        }
        double rate = Double.parseDouble(a[1]), job = Double.parseDouble(a[2]);
        state = a[3];
        try { progress = Double.parseDouble(Files.readString(Paths.get(state)).trim()); } catch (Exception e) { progress = 0; }
        System.out.printf("leak: starting at %.0f of %.0f MiB%n", progress, job);
        Runtime.getRuntime().addShutdownHook(new Thread(Heap::save));
        ArrayList<byte[]> leaked = new ArrayList<>();
        long t0 = System.nanoTime(), lastSave = t0;
        long thisRun = 0;
        while (progress < job) {
            while (thisRun < (System.nanoTime() - t0) / 1e9 * rate && progress < job) {
                byte[] b = new byte[1 << 20]; b[4096] = 1; leaked.add(b); thisRun++; progress++;
            }
            Thread.sleep(10);
            if (System.nanoTime() - lastSave >= 500_000_000L) { save(); lastSave = System.nanoTime(); }
        }
        save();
        System.out.printf("done: job of %.0f MiB finished%n", job);
    }
}
