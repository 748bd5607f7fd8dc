// cpuport e2e workload for Debian's HotSpot (openjdk-17-jre-headless): hot numeric loops that
// C2 compiles into the JIT code cache (auto-vectorised int/long/double array loops: AVX-512 or
// AVX2 on a CPU that has them, SSE with -XX:UseAVX=0), one checked line per iteration,
// appended to OUT (reopened each time, so no file is open at checkpoint time):
//   iter=N sum=.. dot=.. sq=.. acc=.. ok|BAD
// "ok": the vectorised loops agree with scalar loops computing the same values another way.
// `acc` chains every iteration, so a line is only right if the process's memory survived the
// checkpoint too. Java's arithmetic is exact and the same interpreted or compiled on any CPU
// (strictfp everywhere since Java 17), so:
//   java -cp DIR JWork OUT                 the workload
//   java -cp DIR JWork --verify OUT FROM   recompute every line from iteration 0 and report
//                                          the lines from FROM (1-based) on ("JVERIFY ...")
//   java JWork.java --compile SRC DIR      compile SRC (this file) into DIR with the JRE's own
//                                          compiler (jdk.compiler is in Debian's
//                                          openjdk-17-jre-headless; no JDK needed)
//   java -cp DIR JWork --maps              work a little (until C2 has compiled the loops),
//                                          then list the files this JVM maps (for a guest's
//                                          initramfs)
import java.io.FileWriter;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.List;

public class JWork {
    static final int N = 2048;
    static final int[] A = new int[N], B = new int[N], C = new int[N];
    static final long[] L = new long[N];
    static final double[] D = new double[N], E = new double[N];

    // the vectorisable kernels (C2: superword; int multiply-add, long add, double sqrt)
    static void madd(int[] a, int[] b, int[] c, int k) {
        for (int j = 0; j < a.length; j++) c[j] = a[j] * k + (b[j] ^ (j + k));
    }

    static int isum(int[] c) {
        int s = 0;
        for (int j = 0; j < c.length; j++) s += c[j];
        return s;
    }

    static void widen(int[] c, long[] l) {
        for (int j = 0; j < c.length; j++) l[j] += (long) c[j] * 3;
    }

    static void roots(double[] d, double[] e) {
        for (int j = 0; j < d.length; j++) e[j] = Math.sqrt(d[j]) * 0.5;
    }

    static long acc;	// the chain, after step()

    // one iteration (acc: the chain so far): returns its line; ok compares with scalar recomputations
    static String step(long it) {
        int k = (int) (it % 1009) + 3;
        for (int j = 0; j < N; j++) {
            A[j] = (int) (j * 2654435761L + it);
            B[j] = j * 40503 - (int) it;
            D[j] = (double) ((j + it) % 100003);
            L[j] = 0;
        }
        int sum = 0;
        for (int r = 0; r < 32; r++) {
            madd(A, B, C, k + r);
            sum += isum(C);
            widen(C, L);
        }
        roots(D, E);
        long dot = 0;
        for (int j = 0; j < N; j++) dot = dot * 31 + L[j];
        double sq = 0;
        for (int j = 0; j < N; j++) sq += E[j];
        // scalar recomputation, other loop order, no arrays
        int sum2 = 0;
        long dot2 = 0;
        for (int j = N - 1, p = 1; j >= 0; j--) {
            int a = (int) (j * 2654435761L + it), b = j * 40503 - (int) it;
            long l = 0;
            for (int r = 31; r >= 0; r--) {
                int c = a * (k + r) + (b ^ (j + k + r));
                sum2 += c;
                l += (long) c * 3;
            }
            dot2 += l * pow31(N - 1 - j);
        }
        double sq2 = 0;
        for (int j = 0; j < N; j++) sq2 += Math.sqrt((double) ((j + it) % 100003)) * 0.5;
        boolean ok = sum == sum2 && dot == dot2 && sq == sq2;
        acc = acc * 1000003 + sum + dot * 7 + Double.doubleToLongBits(sq);
        return String.format("iter=%d sum=%08x dot=%016x sq=%016x acc=%016x %s", it, sum, dot,
                Double.doubleToLongBits(sq), acc, ok ? "ok" : "BAD");
    }

    static long pow31(int n) {
        long p = 1, b = 31;
        while (n > 0) {
            if ((n & 1) != 0) p *= b;
            b *= b;
            n >>= 1;
        }
        return p;
    }

    static int verify(String path, int from) throws Exception {
        List<String> lines = Files.readAllLines(Paths.get(path));
        int bad = 0, checked = 0;
        for (int n = 0; n < lines.size(); n++) {
            String want = step(n);
            if (n + 1 >= from) {
                checked++;
                if (!lines.get(n).equals(want) && ++bad <= 3)
                    System.out.println("line " + (n + 1) + ": got " + lines.get(n) + ", want " + want);
            }
        }
        System.out.println("JVERIFY lines=" + lines.size() + " checked=" + checked + " bad=" + bad);
        return bad == 0 ? 0 : 1;
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 3 && args[0].equals("--compile"))
            System.exit(javax.tools.ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", args[2], args[1]));
        if (args.length == 1 && args[0].equals("--maps")) {
            for (int it = 0; it < 40; it++) step(it);
            Files.lines(Paths.get("/proc/self/maps")).map(l -> l.split("\\s+", 6))
                    .filter(f -> f.length == 6 && f[5].startsWith("/")).map(f -> f[5]).distinct()
                    .forEach(System.out::println);
            return;
        }
        if (args.length >= 2 && args[0].equals("--verify"))
            System.exit(verify(args[1], args.length > 2 ? Integer.parseInt(args[2]) : 1));
        for (long it = 0;; it++) {
            String line = step(it) + "\n";
            try (FileWriter w = new FileWriter(args[0], true)) {
                w.write(line);
            }
            Thread.sleep(50);
        }
    }
}
