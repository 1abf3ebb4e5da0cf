/* Margin revaluation kernel: one pass per account over a flat (CSR) book, bit-identical to the exact Python path.
 *
 * Why C: numpy needs ~40 array passes per revaluation (float estimates, residue corrections, segment sums,
 * portfolio grouping), which caps it near 6-7 M positions/s on a realistic sparse book; here every position is
 * touched once, in 128-bit integer arithmetic that mirrors Python's unbounded ints (prover/engine/margin.py):
 *
 *   - every product of two int64 values fits in __int128 (< 2^126);
 *   - every sum is taken only after the account passed the magnitude check (the exact path's float64 bound,
 *     computed here in the same order with the same IEEE double operations), which bounds all sums far below
 *     2^127 (|q x mark| < 2^56 x 1e10 < 2^90 per account, scenario sums < 2^83);
 *   - every division is by a positive public constant and floors toward -infinity like Python's //; ceilings are
 *     -floor(-x / d), as ceil_div does.
 *
 * The Python side (prover/engine/kernel.py) prepares contiguous int64 / uint8 buffers and calls revalue(); no
 * numpy headers are needed (the buffer protocol carries the arrays). The loop runs without the GIL.
 * Compiled with -ffp-contract=off so the magnitude sums are the same IEEE operations as Python's floats.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

typedef __int128 i128;

#define WIDE 10000000000LL /* WIDE_DIVISOR: q x price (1e16) -> micro-USD (1e6) */
#define RATE 1000000LL     /* RATE_SCALE */
#define QTY 100000000LL    /* QTY_SCALE */
#define ACCOUNT_LIMIT 72057594037927936.0 /* 2^56 */

/* floor(a / d) for d > 0, with an int64 fast path (inlined with a constant d, the compiler multiplies). */
static inline i128 floordiv(i128 a, int64_t d) {
    if (a >= INT64_MIN && a <= INT64_MAX) {
        int64_t x = (int64_t)a, q = x / d;
        return (x % d < 0) ? q - 1 : q;
    }
    i128 q = a / d;
    return (a % d < 0) ? q - 1 : q;
}

static inline i128 ceildiv(i128 a, int64_t d) { return -floordiv(-a, d); }

/* floor(a x b / 1e10) and whether it was inexact, for int64 a, b, exact for every input.
 * Fast path: est = a x b x 1e-10 in doubles carries a relative error below 5 x 2^-53 (two conversions, two
 * products, the rounded constant), so when |est| < 1e18 the truncated v0 is within 600 of the true quotient and the
 * true residue r = a b - v0 x 1e10 satisfies |r| < 2^43: the wrapped 64-bit difference IS r, and one int64 division
 * by the constant corrects v0. Otherwise (never after the magnitude check, which bounds |a b / 1e10| < 2^57) the
 * 128-bit product is divided. */
static inline i128 wide_div(int64_t a, int64_t b, int *inexact) {
    double est = (double)a * (double)b * 1e-10;
    if (est > -1e18 && est < 1e18) {
        int64_t v0 = (int64_t)est;
        int64_t r = (int64_t)((uint64_t)a * (uint64_t)b - (uint64_t)v0 * (uint64_t)WIDE);
        int64_t c = r / WIDE;
        r -= c * WIDE;
        if (r < 0) c--, r += WIDE;
        *inexact = r != 0;
        return (i128)(v0 + c);
    }
    i128 prod = (i128)a * b, v = floordiv(prod, WIDE);
    *inexact = prod - v * WIDE != 0;
    return v;
}

enum { B_START, B_INST, B_QTY, B_COST, B_BSTART, B_BASSET, B_BAMT, B_REAL, B_PORT, B_ROWS, N_BOOK };
enum {
    T_MARK, T_OPT, T_HASARR, T_UND, T_FLOOR, T_IMR, T_MMR, T_CUM, T_RLONG, T_RSHORT, T_SMIN, T_WORST, T_SPOT,
    T_HFLOOR, T_HRATE, N_TAB
};
enum { O_COLL, O_UPNL, O_OPTV, O_EQ, O_IM, O_MM, O_SHORT, O_STATUS, N_OUT };

typedef struct {
    const int64_t *start, *inst, *qty, *cost, *bstart, *basset, *bamt, *real, *rows;
    const uint8_t *port;
    const int64_t *mark, *und, *floor, *imr, *mmr, *cum, *rlong, *rshort, *smin, *worst, *spot, *hfloor, *hrate;
    const uint8_t *opt, *hasarr;
    int64_t K, S, T, n_und, mm_ratio, n_out, use_rows;
    int64_t n_inst, n_assets, n_acc, n_pos, n_bal; /* bounds every index is checked against */
    int64_t *coll, *upnl, *optv, *eq, *im, *mm, *shortfall;
    int8_t *status;
} job_t;

/* The exact path's MarginEngine.magnitude, operation for operation (Python float = IEEE double; prices are taken
 * in absolute value, which changes nothing for the valid, positive ones and keeps a negative price from shrinking
 * the bound under the 64-bit results). Also checks that
 * every index the account's loops will follow lies inside its array (the buffers come from Python): *ok = 0 if not. */
static double magnitude(const job_t *j, int64_t a, int *ok) {
    *ok = 0;
    if (a < 0 || a >= j->n_acc) return 0;
    int64_t p0 = j->start[a], p1 = j->start[a + 1], b0 = j->bstart[a], b1 = j->bstart[a + 1];
    if (p0 < 0 || p0 > p1 || p1 > j->n_pos || b0 < 0 || b0 > b1 || b1 > j->n_bal) return 0;
    double m = fabs((double)j->real[a]);
    for (int64_t b = b0; b < b1; b++) {
        int64_t asset = j->basset[b];
        if ((uint64_t)asset >= (uint64_t)j->n_assets) return 0;
        m += fabs((double)j->bamt[b]) * fabs((double)j->spot[asset]) / 1e10;
    }
    int port = j->port[a];
    for (int64_t p = p0; p < p1; p++) {
        int64_t i = j->inst[p];
        if ((uint64_t)i >= (uint64_t)j->n_inst) return 0;
        double q = fabs((double)j->qty[p]);
        m += q * fabs((double)j->mark[i]) / 1e10 + fabs((double)j->cost[p]);
        if (port && j->hasarr[i]) m += q * fabs((double)(j->worst[i] + j->smin[i])) / 1e8;
    }
    *ok = 1;
    return m;
}

/* haircut_numerator summed over the account's balances, then one division: floor(sum / 1e6). */
static i128 collateral(const job_t *j, int64_t a) {
    i128 num = 0;
    for (int64_t b = j->bstart[a]; b < j->bstart[a + 1]; b++) {
        int64_t asset = j->basset[b];
        int inexact;
        int64_t v = (int64_t)wide_div(j->bamt[b], j->spot[asset], &inexact); /* |v| < 2^57: magnitude passed */
        if (v <= 0) {
            num += (i128)v * RATE; /* borrowings count in full */
            continue;
        }
        const int64_t *fl = j->hfloor + asset * j->T, *rt = j->hrate + asset * j->T;
        if (j->T == 1 || v <= fl[1]) { /* inside the first tier (floors ascend: the later tiers add 0) */
            if (v > fl[0]) num += (i128)rt[0] * (v - fl[0]);
            continue;
        }
        for (int64_t t = 0; t < j->T; t++) { /* padded tiers have floor 2^62 > v and rate 0: they add 0 */
            int64_t top = (t + 1 < j->T) ? fl[t + 1] : v;
            int64_t hi = v < top ? v : top, slice = hi - fl[t]; /* fl[t] <= 2^62: no int64 overflow */
            if (slice > 0) num += (i128)rt[t] * slice;
        }
    }
    return floordiv(num, RATE);
}

/* Portfolio IM: per underlying max(0, max_s ceil(-sum q R_s / 1e8), ceil(sum short q x smin / 1e8)), summed. */
static i128 portfolio_im(const job_t *j, int64_t a, i128 *acc, i128 *somc, uint8_t *seen, int64_t *touched) {
    int64_t n_t = 0, S = j->S;
    for (int64_t p = j->start[a]; p < j->start[a + 1]; p++) {
        int64_t i = j->inst[p], q = j->qty[p];
        if (!j->hasarr[i]) continue;
        int64_t u = j->und[i];
        i128 *row = acc + u * S;
        if (!seen[u]) {
            seen[u] = 1;
            touched[n_t++] = u;
            memset(row, 0, (size_t)S * sizeof(i128));
            somc[u] = 0;
        }
        const int64_t *arr = (q > 0 ? j->rlong : j->rshort) + i * S;
        for (int64_t s = 0; s < S; s++) row[s] += (i128)q * arr[s];
        if (q < 0) somc[u] += (i128)(-(i128)q) * j->smin[i];
    }
    /* ceil(x / 1e8) is non-decreasing in x, so max(0, max_s ceil(-row_s / 1e8), ceil(somc / 1e8)) is
     * ceil(max(0, max_s -row_s, somc) / 1e8): one division per underlying instead of one per scenario. */
    i128 total = 0;
    for (int64_t t = 0; t < n_t; t++) {
        int64_t u = touched[t];
        seen[u] = 0;
        i128 best = somc[u] > 0 ? somc[u] : 0, *row = acc + u * S;
        for (int64_t s = 0; s < S; s++)
            if (-row[s] > best) best = -row[s];
        total += ceildiv(best, QTY);
    }
    return total;
}

/* Returns the number of accounts refused by the magnitude check (status -1), -1 if out of memory, -2 if an
 * index of the book is out of range (nothing after that account is written). */
static int64_t run(const job_t *j, int64_t o_begin, int64_t o_end) {
    int64_t n_und = j->n_und > 0 ? j->n_und : 1, S = j->S > 0 ? j->S : 1;
    i128 *acc = malloc((size_t)(n_und * S) * sizeof(i128));
    i128 *somc = malloc((size_t)n_und * sizeof(i128));
    uint8_t *seen = calloc((size_t)n_und, 1);
    int64_t *touched = malloc((size_t)n_und * sizeof(int64_t));
    if (!acc || !somc || !seen || !touched) {
        free(acc), free(somc), free(seen), free(touched);
        return -1;
    }
    int64_t bad = 0, K = j->K;
    for (int64_t o = o_begin; o < o_end; o++) {
        int64_t a = j->use_rows ? j->rows[o] : o;
        int ok;
        double m = magnitude(j, a, &ok);
        if (!ok) {
            bad = -2;
            break;
        }
        if (!(m < ACCOUNT_LIMIT)) {
            j->coll[o] = j->upnl[o] = j->optv[o] = j->eq[o] = j->im[o] = j->mm[o] = j->shortfall[o] = 0;
            j->status[o] = -1;
            bad++;
            continue;
        }
        int port = j->port[a], any_arr = 0;
        i128 upnl = 0, optv = 0, im_num = 0, mm_num = 0;
        for (int64_t p = j->start[a]; p < j->start[a + 1]; p++) {
            int64_t i = j->inst[p], q = j->qty[p];
            int inexact;
            int64_t v = (int64_t)wide_div(q, j->mark[i], &inexact); /* |v| < 2^57: magnitude passed */
            if (j->opt[i]) {
                optv += v;
                any_arr |= port && j->hasarr[i];
                continue;
            }
            upnl += v - j->cost[p];
            if (port && j->hasarr[i]) {
                any_arr = 1;
                continue;
            }
            int64_t n = q >= 0 ? v + inexact : -v; /* ceil(|q| mark / 1e10) from the one division */
            const int64_t *fl = j->floor + i * K;
            int64_t k = 0;
            while (k + 1 < K && n >= fl[k + 1]) k++;
            im_num += (i128)n * j->imr[i * K + k]; /* 64 x 64 -> 128-bit products */
            mm_num += (i128)n * j->mmr[i * K + k] - (i128)j->cum[i * K + k] * RATE;
        }
        i128 im = ceildiv(im_num, RATE), mm = ceildiv(mm_num, RATE);
        if (port && any_arr) {
            i128 pim = portfolio_im(j, a, acc, somc, seen, touched);
            im += pim;
            mm += ceildiv(pim * j->mm_ratio, RATE);
        }
        i128 coll = collateral(j, a) + j->real[a];
        i128 eq = coll + upnl + optv;
        int8_t st = eq < mm ? 2 : (eq < im ? 1 : 0);
        j->coll[o] = (int64_t)coll;
        j->upnl[o] = (int64_t)upnl;
        j->optv[o] = (int64_t)optv;
        j->eq[o] = (int64_t)eq;
        j->im[o] = (int64_t)im;
        j->mm[o] = (int64_t)mm;
        j->status[o] = st;
        j->shortfall[o] = (int64_t)(st == 2 ? mm - eq : (st == 1 ? im - eq : 0));
    }
    free(acc), free(somc), free(seen), free(touched);
    return bad;
}

typedef struct {
    const job_t *job;
    int64_t begin, end, result;
} part_t;

static void *run_part(void *arg) {
    part_t *p = arg;
    p->result = run(p->job, p->begin, p->end);
    return NULL;
}

/* Accounts are independent: split them into contiguous ranges, one per thread (the calling thread takes the
 * first). The refused counts add up; an error (-1, -2) from any range wins. */
static int64_t run_threads(const job_t *j, int64_t threads) {
    if (threads > 16) threads = 16;
    if (threads < 2 || j->n_out < 4096) return run(j, 0, j->n_out);
    part_t parts[16];
    pthread_t tids[16];
    int started[16] = {0};
    for (int64_t t = 0; t < threads; t++) {
        parts[t].job = j;
        parts[t].begin = j->n_out * t / threads;
        parts[t].end = j->n_out * (t + 1) / threads;
        parts[t].result = 0;
    }
    for (int64_t t = 1; t < threads; t++)
        started[t] = pthread_create(&tids[t], NULL, run_part, &parts[t]) == 0;
    for (int64_t t = 1; t < threads; t++)
        if (!started[t]) run_part(&parts[t]); /* could not start a thread: do its range here */
    run_part(&parts[0]);
    int64_t total = 0, err = 0;
    for (int64_t t = 0; t < threads; t++) {
        if (t && started[t]) pthread_join(tids[t], NULL);
        if (parts[t].result < 0 && (err == 0 || parts[t].result == -2)) err = parts[t].result;
        else if (parts[t].result > 0) total += parts[t].result;
    }
    return err ? err : total;
}

/* Fill bufs[0..n) from a tuple of objects supporting the buffer protocol (C-contiguous). */
static int get_buffers(PyObject *tup, Py_ssize_t n, Py_buffer *bufs, int writable, const char *what) {
    if (!PyTuple_Check(tup) || PyTuple_GET_SIZE(tup) != n) {
        PyErr_Format(PyExc_ValueError, "%s: expected a tuple of %zd buffers", what, n);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(tup, i), &bufs[i], flags) < 0) {
            for (Py_ssize_t k = 0; k < i; k++) PyBuffer_Release(&bufs[k]);
            return -1;
        }
    }
    return 0;
}

static void release(Py_buffer *bufs, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) PyBuffer_Release(&bufs[i]);
}

static PyObject *py_revalue(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *book, *tables, *out;
    long long K, S, T, n_und, mm_ratio, n_out, use_rows, n_inst, n_assets, threads;
    if (!PyArg_ParseTuple(args, "OOOLLLLLLLLLL", &book, &tables, &out, &K, &S, &T, &n_und, &mm_ratio, &n_out,
                          &use_rows, &n_inst, &n_assets, &threads))
        return NULL;
    Py_buffer bb[N_BOOK], tb[N_TAB], ob[N_OUT];
    if (get_buffers(book, N_BOOK, bb, 0, "book") < 0) return NULL;
    if (get_buffers(tables, N_TAB, tb, 0, "tables") < 0) {
        release(bb, N_BOOK);
        return NULL;
    }
    if (get_buffers(out, N_OUT, ob, 1, "out") < 0) {
        release(bb, N_BOOK), release(tb, N_TAB);
        return NULL;
    }
    int64_t n_acc = (int64_t)(bb[B_REAL].len / 8);
    const char *err = NULL;
    if (bb[B_START].len != (n_acc + 1) * 8 || bb[B_BSTART].len != (n_acc + 1) * 8 || bb[B_PORT].len != n_acc)
        err = "book: start, bal_start and portfolio must match the account count";
    else if (bb[B_QTY].len != bb[B_INST].len || bb[B_COST].len != bb[B_INST].len || bb[B_BAMT].len != bb[B_BASSET].len)
        err = "book: position and balance columns must have equal lengths";
    else if (use_rows && bb[B_ROWS].len != n_out * 8)
        err = "book: rows must have n_out entries";
    else if (!use_rows && n_out != n_acc)
        err = "book: n_out must be the account count without rows";
    else if (K < 1 || S < 1 || T < 1 || n_und < 1 || n_inst < 0 || n_assets < 0 ||
             tb[T_MARK].len != n_inst * 8 || tb[T_OPT].len != n_inst || tb[T_HASARR].len != n_inst ||
             tb[T_UND].len != n_inst * 8 || tb[T_FLOOR].len != n_inst * K * 8 || tb[T_IMR].len != n_inst * K * 8 ||
             tb[T_MMR].len != n_inst * K * 8 || tb[T_CUM].len != n_inst * K * 8 ||
             tb[T_RLONG].len != n_inst * S * 8 || tb[T_RSHORT].len != n_inst * S * 8 ||
             tb[T_SMIN].len != n_inst * 8 || tb[T_WORST].len != n_inst * 8 || tb[T_SPOT].len != n_assets * 8 ||
             tb[T_HFLOOR].len != n_assets * T * 8 || tb[T_HRATE].len != n_assets * T * 8)
        err = "tables: shapes do not match the instrument and asset counts";
    if (err) {
        release(bb, N_BOOK), release(tb, N_TAB), release(ob, N_OUT);
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    for (int i = 0; i < N_OUT; i++) {
        Py_ssize_t want = (Py_ssize_t)n_out * (i == O_STATUS ? 1 : 8);
        if (ob[i].len != want) {
            release(bb, N_BOOK), release(tb, N_TAB), release(ob, N_OUT);
            return PyErr_Format(PyExc_ValueError, "out[%d]: %zd bytes, expected %zd", i, ob[i].len, want);
        }
    }
    job_t j = {
        .start = bb[B_START].buf, .inst = bb[B_INST].buf, .qty = bb[B_QTY].buf, .cost = bb[B_COST].buf,
        .bstart = bb[B_BSTART].buf, .basset = bb[B_BASSET].buf, .bamt = bb[B_BAMT].buf, .real = bb[B_REAL].buf,
        .port = bb[B_PORT].buf, .rows = bb[B_ROWS].buf,
        .mark = tb[T_MARK].buf, .opt = tb[T_OPT].buf, .hasarr = tb[T_HASARR].buf, .und = tb[T_UND].buf,
        .floor = tb[T_FLOOR].buf, .imr = tb[T_IMR].buf, .mmr = tb[T_MMR].buf, .cum = tb[T_CUM].buf,
        .rlong = tb[T_RLONG].buf, .rshort = tb[T_RSHORT].buf, .smin = tb[T_SMIN].buf, .worst = tb[T_WORST].buf,
        .spot = tb[T_SPOT].buf, .hfloor = tb[T_HFLOOR].buf, .hrate = tb[T_HRATE].buf,
        .K = K, .S = S, .T = T, .n_und = n_und, .mm_ratio = mm_ratio, .n_out = n_out, .use_rows = use_rows,
        .n_inst = n_inst, .n_assets = n_assets, .n_acc = n_acc, .n_pos = (int64_t)(bb[B_INST].len / 8),
        .n_bal = (int64_t)(bb[B_BASSET].len / 8),
        .coll = ob[O_COLL].buf, .upnl = ob[O_UPNL].buf, .optv = ob[O_OPTV].buf, .eq = ob[O_EQ].buf,
        .im = ob[O_IM].buf, .mm = ob[O_MM].buf, .shortfall = ob[O_SHORT].buf, .status = ob[O_STATUS].buf,
    };
    int64_t bad;
    Py_BEGIN_ALLOW_THREADS bad = run_threads(&j, threads);
    Py_END_ALLOW_THREADS release(bb, N_BOOK), release(tb, N_TAB), release(ob, N_OUT);
    if (bad == -1) return PyErr_NoMemory();
    if (bad == -2) return PyErr_Format(PyExc_ValueError, "book: an offset, instrument or asset index is out of range");
    return PyLong_FromLongLong(bad);
}

static PyMethodDef methods[] = {
    {"revalue", py_revalue, METH_VARARGS,
     "revalue(book, tables, out, K, S, T, n_und, mm_ratio, n_out, use_rows, n_inst, n_assets, threads) -> refused"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_engine", "exact margin revaluation kernel", -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__engine(void) { return PyModule_Create(&module); }
