/*
 * Development trusted setup in C (#included by bn254.c, after the curve, NTT and setup helpers).
 *
 * Why: a dev setup knows its secrets, so every key point is scalar * generator. In Python the
 * scalars (Lagrange basis at tau, the QAP columns at tau, their mixes) and the fixed-base
 * multiplications took 1,396 s for a 256-leaf venue batch (~0.5 M constraints). Here:
 *   lagrange(x, log_n, odd, threads)    L_j(x) over the 2^log_n domain (or only its odd j), batch-inverted
 *   eval_columns(entries, lag, n_vars)  u_k(x) = sum M[row][k] L_row(x) over a sparse QAP matrix
 *   mix_columns(u, v, w, ...)           (beta u + alpha v + w) / gamma (public) or / delta (private)
 *   scale_scalars(values, k)            k * values
 *   fixed_g1 / fixed_g2(base, scalars, window, threads)  [k_i * base], windowed fixed-base tables
 * prover/setup/dev.py's pure-Python path stays the reference (tests compare keys byte for byte).
 * Scalars in and out: 32-byte little-endian, standard form, canonical (< r). Points in and out:
 * the kernel's layout (Montgomery, little-endian, all-zero bytes = infinity).
 */

/* 1/a in Fr (Montgomery in and out) by Fermat: a^(r-2). a must be nonzero. */
static void fr_inv(fr *r, const fr *a) {
    static const uint64_t E[4] = {0x43e1f593efffffffULL, 0x2833e84879b97091ULL, 0xb85045b68181585dULL, 0x30644e72e131a029ULL};
    fr acc = FR_ONE;
    for (int i = 3; i >= 0; i--)
        for (int b = 63; b >= 0; b--) {
            fr_mul(&acc, &acc, &acc);
            if (E[i] >> b & 1) fr_mul(&acc, &acc, a);
        }
    *r = acc;
}
static inline int fr_is_zero(const fr *a) { return (a->v[0] | a->v[1] | a->v[2] | a->v[3]) == 0; }

/* canonical little-endian bytes (< r, checked by the caller) <-> Montgomery */
static inline void fr_load_std(fr *r, const uint8_t *b) { fr_to_mont(r, b); }
static inline void fr_store_std(uint8_t *b, const fr *a) { fr_from_mont(b, a); }
static int fr_bytes_canonical(const uint8_t *b) {
    uint64_t t[4];
    memcpy(t, b, 32);
    return !fr_geq(t);
}

/* ---- Lagrange basis: out_j = c * p_j / (x - p_j), p_j = g0 * step^j, j < n. With g0 = 1,
 * step = w_n, c = (x^n - 1) / n this is L_j(x) over the size-n domain; with g0 = W, step = W^2
 * (W = w_{2n}), c = (x^{2n} - 1) / (2n) it is L^{2n}_{2j+1}(x). Threads take contiguous ranges,
 * each with its own start power and one inversion (Montgomery's trick). */
typedef struct { fr g0, step, x, c; uint8_t *out; fr *scratch; } lagjob_t;

static void lag_range(void *arg, size_t lo, size_t hi) {
    lagjob_t *j = arg;
    if (lo >= hi) return;
    fr p, acc = FR_ONE, *den = j->scratch; /* den[i]: x - p_i, then prefix products in place */
    fr_pow(&p, &j->step, (uint64_t)lo);
    fr_mul(&p, &p, &j->g0);
    fr *pts = j->scratch + (hi - lo);
    for (size_t i = lo; i < hi; i++) {
        size_t k = i - lo;
        pts[k] = p;
        fr d;
        fr_sub(&d, &j->x, &p);
        den[k] = acc;                       /* prefix product before d */
        fr_mul(&acc, &acc, &d);
        fr_mul(&p, &p, &j->step);
    }
    fr ia;
    fr_inv(&ia, &acc);
    for (size_t i = hi; i-- > lo;) {
        size_t k = i - lo;
        fr d, q, v;
        fr_sub(&d, &j->x, &pts[k]);
        fr_mul(&q, &ia, &den[k]);          /* 1 / d */
        fr_mul(&ia, &ia, &d);
        fr_mul(&v, &q, &pts[k]);
        fr_mul(&v, &v, &j->c);
        fr_store_std(j->out + 32 * i, &v);
    }
}

typedef struct { lagjob_t base; size_t n; int nt; } lagpar_t;

static void lag_chunk(void *arg, size_t lo, size_t hi) {
    /* one scratch per range: allocated here so that each thread owns its buffer */
    lagjob_t j = *(lagjob_t *)arg;
    j.scratch = malloc(2 * (hi - lo + 1) * sizeof(fr));
    if (!j.scratch) return; /* the caller sees an unfilled (zero) output: checked below */
    lag_range(&j, lo, hi);
    free(j.scratch);
}

/* lagrange(x_le, log_n, odd, threads) -> n canonical scalars, n = 2^log_n (odd = 0) or 2^(log_n - 1)
 * (odd = 1: the odd-index basis values of the 2^log_n domain). ValueError if x is in that domain. */
static PyObject *py_lagrange(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer xb;
    int log_n, odd, nt;
    if (!PyArg_ParseTuple(args, "y*iii", &xb, &log_n, &odd, &nt)) return NULL;
    PyObject *res = NULL;
    if (xb.len != 32 || log_n < 0 || log_n > 28 || (odd && log_n < 1) || nt < 1 || !fr_bytes_canonical(xb.buf)) {
        PyErr_SetString(PyExc_ValueError, "lagrange: x must be 32 canonical bytes, 0 <= log_n <= 28 (>= 1 with odd)");
        goto out;
    }
    size_t big = (size_t)1 << log_n, n = odd ? big / 2 : big;
    /* generator of the 2^log_n domain: the 2^28 root squared down (root_of_unity(28) = 5^((r-1)/2^28)) */
    static const uint8_t W28[32] = {0xf0, 0x19, 0x5b, 0x72, 0x6e, 0x1b, 0xd6, 0x9b, 0xd4, 0x2e, 0x11, 0x41, 0x1e, 0x11,
                                    0x2d, 0x40, 0xbc, 0x2a, 0xf6, 0x8e, 0xeb, 0xa7, 0xe0, 0x00, 0x85, 0x7e, 0x8a, 0xa5,
                                    0xf0, 0x09, 0x3c, 0x2a};
    fr w, x, xn, c, nn, one = FR_ONE;
    fr_load_std(&w, W28);
    for (int k = log_n; k < 28; k++) fr_mul(&w, &w, &w);
    fr_load_std(&x, xb.buf);
    fr_pow(&xn, &x, (uint64_t)big);
    fr_sub(&c, &xn, &one);
    if (fr_is_zero(&c)) {
        PyErr_SetString(PyExc_ValueError, "evaluation point lies in the domain");
        goto out;
    }
    uint8_t nb[32] = {0};
    memcpy(nb, &big, sizeof big);
    fr_load_std(&nn, nb);
    fr_inv(&nn, &nn);
    fr_mul(&c, &c, &nn);
    lagjob_t job = {.x = x, .c = c};
    if (odd) { job.g0 = w; fr_mul(&job.step, &w, &w); }
    else { job.g0 = one; job.step = w; }
    res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(32 * n));
    if (!res) goto out;
    job.out = (uint8_t *)PyBytes_AS_STRING(res);
    memset(job.out, 0, 32 * n);
    Py_BEGIN_ALLOW_THREADS
    par_range(n >= par_min ? nt : 1, n, lag_chunk, &job);
    Py_END_ALLOW_THREADS
    /* a basis value is never zero (p_j != 0, c != 0): a zero means a range ran out of memory */
    for (size_t i = 0; i < n; i += (n > 64 ? n / 64 : 1))
        if (point_is_zero(job.out + 32 * i, 32)) { Py_CLEAR(res); PyErr_NoMemory(); goto out; }
out:
    PyBuffer_Release(&xb);
    return res;
}

/* a Python int reduced mod r, as Montgomery Fr; -1 with an exception set on failure */
static int fr_from_pylong(fr *r, PyObject *v, PyObject *modulus) {
    uint8_t b[32];
    int ok;
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t need = PyLong_AsNativeBytes(v, b, 32, Py_ASNATIVEBYTES_LITTLE_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER |
                                                         Py_ASNATIVEBYTES_REJECT_NEGATIVE);
    ok = need >= 0 && need <= 32;
    if (need < 0) PyErr_Clear();
#else
    ok = _PyLong_AsByteArray((PyLongObject *)v, b, 32, 1, 0) == 0;
    if (!ok) PyErr_Clear();
#endif
    if (!ok) { /* negative or wider than 256 bits: reduce in Python (rare) */
        PyObject *m = PyNumber_Remainder(v, modulus);
        if (!m) return -1;
#if PY_VERSION_HEX >= 0x030D0000
        Py_ssize_t need2 = PyLong_AsNativeBytes(m, b, 32, Py_ASNATIVEBYTES_LITTLE_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER);
        ok = need2 >= 0 && need2 <= 32;
#else
        ok = _PyLong_AsByteArray((PyLongObject *)m, b, 32, 1, 0) == 0;
#endif
        Py_DECREF(m);
        if (!ok) return -1;
    }
    uint64_t t[4];
    memcpy(t, b, 32);
    while (fr_geq(t)) fr_subm(t); /* < 2^256: at most five subtractions */
    memcpy(b, t, 32);
    fr_load_std(r, b);
    return 0;
}

static PyObject *r_modulus(void) {
    uint8_t b[32];
    memcpy(b, RM, 32);
    return _PyLong_FromByteArray(b, 32, 1, 0);
}

/* eval_columns(entries, lag_le, n_vars) -> n_vars canonical scalars: out[sig] = sum coeff * lag[row]
 * over entries = [(row, sig, coeff), ...] (any sequence of 3-sequences of ints). */
static PyObject *py_eval_columns(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *entries, *seq = NULL, *modulus = NULL, *res = NULL;
    Py_buffer lb;
    Py_ssize_t nv;
    if (!PyArg_ParseTuple(args, "Oy*n", &entries, &lb, &nv)) return NULL;
    fr *acc = NULL, *lag = NULL;
    size_t nl = (size_t)lb.len / 32;
    if (lb.len % 32 || nv < 0) { PyErr_SetString(PyExc_ValueError, "eval_columns: bad arguments"); goto out; }
    seq = PySequence_Fast(entries, "eval_columns: entries must be a sequence");
    modulus = r_modulus();
    acc = calloc((size_t)nv + 1, sizeof(fr));
    lag = malloc((nl + 1) * sizeof(fr));
    if (!seq || !modulus) goto out;
    if (!acc || !lag) { PyErr_NoMemory(); goto out; }
    for (size_t i = 0; i < nl; i++) {
        if (!fr_bytes_canonical((const uint8_t *)lb.buf + 32 * i)) {
            PyErr_SetString(PyExc_ValueError, "eval_columns: a Lagrange value is not canonical");
            goto out;
        }
        fr_load_std(&lag[i], (const uint8_t *)lb.buf + 32 * i);
    }
    Py_ssize_t m = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t e = 0; e < m; e++) {
        PyObject *it = items[e];
        PyObject *row_o, *sig_o, *val_o;
        if (PyTuple_Check(it) && PyTuple_GET_SIZE(it) == 3) {
            row_o = PyTuple_GET_ITEM(it, 0); sig_o = PyTuple_GET_ITEM(it, 1); val_o = PyTuple_GET_ITEM(it, 2);
        } else {
            PyErr_Format(PyExc_ValueError, "eval_columns: entry %zd is not a (row, signal, coefficient) tuple", e);
            goto out;
        }
        Py_ssize_t row = PyLong_AsSsize_t(row_o), sig = PyLong_AsSsize_t(sig_o);
        if ((row == -1 || sig == -1) && PyErr_Occurred()) goto out;
        if (row < 0 || (size_t)row >= nl) {
            PyErr_Format(PyExc_ValueError, "eval_columns: entry %zd: row %zd outside the domain of size %zu", e, row, nl);
            goto out;
        }
        if (sig < 0 || sig >= nv) {
            PyErr_Format(PyExc_ValueError, "eval_columns: entry %zd: signal %zd out of range [0, %zd)", e, sig, nv);
            goto out;
        }
        if (!PyLong_Check(val_o)) {
            PyErr_Format(PyExc_TypeError, "eval_columns: entry %zd: the coefficient is not an int", e);
            goto out;
        }
        fr c, t;
        if (fr_from_pylong(&c, val_o, modulus) < 0) goto out;
        fr_mul(&t, &c, &lag[row]);
        fr_add(&acc[sig], &acc[sig], &t);
    }
    res = PyBytes_FromStringAndSize(NULL, 32 * nv);
    if (res) {
        uint8_t *o = (uint8_t *)PyBytes_AS_STRING(res);
        for (Py_ssize_t k = 0; k < nv; k++) fr_store_std(o + 32 * k, &acc[k]);
    }
out:
    free(acc); free(lag);
    Py_XDECREF(seq); Py_XDECREF(modulus);
    PyBuffer_Release(&lb);
    return res;
}

static int all_canonical(const Py_buffer *b, const char *what) {
    for (Py_ssize_t i = 0; i < b->len; i += 32)
        if (!fr_bytes_canonical((const uint8_t *)b->buf + i)) {
            PyErr_Format(PyExc_ValueError, "%s: value %zd is not a canonical scalar (< r)", what, i / 32);
            return 0;
        }
    return 1;
}

/* mix_columns(u, v, w, alpha, beta, n_pub, g_inv, d_inv) -> (beta u_k + alpha v_k + w_k) * (g_inv for
 * k <= n_pub, d_inv after), n_vars canonical scalars (u, v, w: n_vars each). */
static PyObject *py_mix_columns(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer ub, vb, wb, ab, bb, gb, db;
    Py_ssize_t n_pub;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*ny*y*", &ub, &vb, &wb, &ab, &bb, &n_pub, &gb, &db)) return NULL;
    PyObject *res = NULL;
    if (ub.len % 32 || vb.len != ub.len || wb.len != ub.len || ab.len != 32 || bb.len != 32 || gb.len != 32 ||
        db.len != 32 || n_pub < 0) {
        PyErr_SetString(PyExc_ValueError, "mix_columns: u, v, w need the same whole number of scalars, the rest 32 bytes");
        goto out;
    }
    if (!all_canonical(&ub, "mix_columns u") || !all_canonical(&vb, "mix_columns v") || !all_canonical(&wb, "mix_columns w") ||
        !all_canonical(&ab, "mix_columns alpha") || !all_canonical(&bb, "mix_columns beta") ||
        !all_canonical(&gb, "mix_columns g_inv") || !all_canonical(&db, "mix_columns d_inv"))
        goto out;
    size_t nv = (size_t)ub.len / 32;
    fr al, be, gi, di;
    fr_load_std(&al, ab.buf); fr_load_std(&be, bb.buf); fr_load_std(&gi, gb.buf); fr_load_std(&di, db.buf);
    res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(32 * nv));
    if (!res) goto out;
    uint8_t *o = (uint8_t *)PyBytes_AS_STRING(res);
    for (size_t k = 0; k < nv; k++) {
        fr u, v, w, t, s;
        fr_load_std(&u, (const uint8_t *)ub.buf + 32 * k);
        fr_load_std(&v, (const uint8_t *)vb.buf + 32 * k);
        fr_load_std(&w, (const uint8_t *)wb.buf + 32 * k);
        fr_mul(&s, &be, &u); fr_mul(&t, &al, &v); fr_add(&s, &s, &t); fr_add(&s, &s, &w);
        fr_mul(&s, &s, k <= (size_t)n_pub ? &gi : &di);
        fr_store_std(o + 32 * k, &s);
    }
out:
    PyBuffer_Release(&ub); PyBuffer_Release(&vb); PyBuffer_Release(&wb); PyBuffer_Release(&ab);
    PyBuffer_Release(&bb); PyBuffer_Release(&gb); PyBuffer_Release(&db);
    return res;
}

/* scale_scalars(values, k) -> [k * v] (canonical scalars) */
static PyObject *py_scale_scalars(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer vb, kb;
    if (!PyArg_ParseTuple(args, "y*y*", &vb, &kb)) return NULL;
    PyObject *res = NULL;
    if (vb.len % 32 || kb.len != 32) { PyErr_SetString(PyExc_ValueError, "scale_scalars: bad arguments"); goto out; }
    if (!all_canonical(&vb, "scale_scalars values") || !all_canonical(&kb, "scale_scalars k")) goto out;
    fr k;
    fr_load_std(&k, kb.buf);
    res = PyBytes_FromStringAndSize(NULL, vb.len);
    if (!res) goto out;
    uint8_t *o = (uint8_t *)PyBytes_AS_STRING(res);
    for (Py_ssize_t i = 0; i < vb.len; i += 32) {
        fr v;
        fr_load_std(&v, (const uint8_t *)vb.buf + i);
        fr_mul(&v, &v, &k);
        fr_store_std(o + i, &v);
    }
out:
    PyBuffer_Release(&vb); PyBuffer_Release(&kb);
    return res;
}

/* ---- fixed-base multiplication. Table T[w][d-1] = d * 2^(c w) * B (affine) for the ceil(254 / c)
 * windows and d < 2^c; k * B is then one addition per nonzero c-bit digit of k. The additions are
 * affine and batched: a chunk of FIXED_CHUNK scalars keeps affine accumulators, and each window adds
 * its table points to all of them with one inversion for the chunk (Montgomery's trick), about half
 * the multiplications of Jacobian mixed additions and no conversion at the end. Equal x coordinates
 * (a doubling, or P + (-P) = infinity) are handled exactly, as in the MSM's batch-affine flush.
 * Threads take contiguous ranges of chunks. */
#define FIXED_CHUNK 512
#define DEFINE_FIXED(PFX, F, PSZ, EQ, ISZERO, ADD, SUB, DBL, MUL, SQR, BINV)                        \
    typedef struct { const PFX##_aff *tab; int c, nw; const uint8_t *sc; uint8_t *out; size_t n; int oom; } PFX##_fixjob_t; \
    typedef struct {                                                                                 \
        PFX##_aff acc[FIXED_CHUNK]; uint8_t has[FIXED_CHUNK], kind[FIXED_CHUNK];                     \
        F den[FIXED_CHUNK]; fp nrm[FIXED_CHUNK], pre[FIXED_CHUNK];                                   \
        uint32_t who[FIXED_CHUNK]; const PFX##_aff *q[FIXED_CHUNK];                                  \
    } PFX##_fixstate_t;                                                                              \
    static void PFX##_fixed_one_chunk(const PFX##_fixjob_t *j, PFX##_fixstate_t *st, size_t s, size_t e) { \
        size_t per = ((size_t)1 << j->c) - 1;                                                        \
        uint64_t mask = ((uint64_t)1 << j->c) - 1;                                                   \
        memset(st->has, 0, e - s);                                                                   \
        for (int w = 0; w < j->nw; w++) {                                                            \
            int bit = w * j->c, limb = bit / 64, off = bit % 64, cnt = 0;                            \
            for (size_t i = s; i < e; i++) {                                                         \
                uint64_t k0, k1 = 0;                                                                 \
                memcpy(&k0, j->sc + 32 * i + 8 * limb, 8);                                           \
                if (off + j->c > 64 && limb < 3) memcpy(&k1, j->sc + 32 * i + 8 * limb + 8, 8);      \
                uint64_t d = k0 >> off;                                                              \
                if (off + j->c > 64) d |= k1 << (64 - off);                                          \
                d &= mask;                                                                           \
                if (!d) continue;                                                                    \
                const PFX##_aff *q = &j->tab[(size_t)w * per + d - 1];                               \
                size_t a = i - s;                                                                    \
                if (!st->has[a]) { st->acc[a] = *q; st->has[a] = 1; continue; }                      \
                const PFX##_aff *p = &st->acc[a];                                                    \
                if (!EQ(&p->x, &q->x)) { SUB(&st->den[cnt], &q->x, &p->x); st->kind[cnt] = 0; }     \
                else if (EQ(&p->y, &q->y) && !ISZERO(&p->y)) { DBL(&st->den[cnt], &p->y); st->kind[cnt] = 1; } \
                else st->kind[cnt] = 2; /* q == -p: the sum is infinity */                           \
                st->who[cnt] = (uint32_t)a; st->q[cnt] = q; cnt++;                                   \
            }                                                                                        \
            if (!cnt) continue;                                                                      \
            BINV(st->den, st->kind, cnt, st->nrm, st->pre);                                          \
            for (int t = 0; t < cnt; t++) {                                                          \
                PFX##_aff *p = &st->acc[st->who[t]];                                                 \
                const PFX##_aff *q = st->q[t];                                                       \
                if (st->kind[t] == 2) { st->has[st->who[t]] = 0; continue; }                         \
                F num, l, tt, x3, y3;                                                                \
                if (st->kind[t] == 0) SUB(&num, &q->y, &p->y);                                       \
                else { SQR(&num, &p->x); ADD(&l, &num, &num); ADD(&num, &l, &num); } /* 3x^2 */      \
                MUL(&l, &num, &st->den[t]);                                                          \
                SQR(&tt, &l); SUB(&tt, &tt, &q->x);                                                  \
                SUB(&x3, &tt, &p->x);                                                                \
                SUB(&y3, &p->x, &x3); MUL(&y3, &l, &y3);                                             \
                SUB(&p->y, &y3, &p->y);                                                              \
                p->x = x3;                                                                           \
            }                                                                                        \
        }                                                                                            \
        for (size_t i = s; i < e; i++) {                                                             \
            uint8_t *o = j->out + (size_t)PSZ * i;                                                   \
            if (!st->has[i - s]) { memset(o, 0, PSZ); continue; }                                    \
            memcpy(o, &st->acc[i - s].x, PSZ / 2); memcpy(o + PSZ / 2, &st->acc[i - s].y, PSZ / 2);  \
        }                                                                                            \
    }                                                                                                \
    /* chunks [clo, chi) of FIXED_CHUNK scalars */                                                   \
    static void PFX##_fixed_chunks(void *arg, size_t clo, size_t chi) {                              \
        PFX##_fixjob_t *j = arg;                                                                     \
        PFX##_fixstate_t *st = malloc(sizeof *st);                                                   \
        if (!st) { j->oom = 1; return; } /* output left unwritten: the caller raises */              \
        for (size_t ch = clo; ch < chi; ch++) {                                                      \
            size_t s = ch * FIXED_CHUNK, e = s + FIXED_CHUNK < j->n ? s + FIXED_CHUNK : j->n;        \
            PFX##_fixed_one_chunk(j, st, s, e);                                                      \
        }                                                                                            \
        free(st);                                                                                    \
    }                                                                                                \
    /* the table, affine: rows built by repeated addition in Jacobian, converted with one inversion */ \
    static PFX##_aff *PFX##_fixed_table(const uint8_t *base, int c, int nw) {                        \
        size_t per = ((size_t)1 << c) - 1, n = per * (size_t)nw;                                     \
        PFX##_jac *jac = malloc(n * sizeof *jac), b;                                                 \
        uint8_t *raw = malloc(n * PSZ);                                                              \
        PFX##_aff *tab = malloc(n * sizeof *tab);                                                    \
        if (!jac || !raw || !tab) { free(jac); free(raw); free(tab); return NULL; }                  \
        PFX##_load(&b, base);                                                                        \
        for (int w = 0; w < nw; w++) {                                                               \
            PFX##_jac *row = jac + (size_t)w * per;                                                  \
            row[0] = b;                                                                              \
            for (size_t d = 1; d < per; d++) PFX##_add(&row[d], &row[d - 1], &b);                    \
            PFX##_add(&b, &row[per - 1], &b); /* 2^c * b: the next window's base */                  \
        }                                                                                            \
        PFX##_store_batch(raw, jac, n);                                                              \
        for (size_t i = 0; i < n; i++) {                                                             \
            memcpy(&tab[i].x, raw + (size_t)PSZ * i, PSZ / 2);                                       \
            memcpy(&tab[i].y, raw + (size_t)PSZ * i + PSZ / 2, PSZ / 2);                             \
        }                                                                                            \
        free(jac); free(raw);                                                                        \
        return tab;                                                                                  \
    }

DEFINE_FIXED(g1, fp, 64, fp_eq, fp_is_zero, fp_add, fp_sub, fp_dbl, fp_mul, fp_sqr, g1_batch_inv)
DEFINE_FIXED(g2, fp2, 128, f2_eq, f2_is_zero, f2_add, f2_sub, f2_dbl, f2_mul, f2_sqr, g2_batch_inv)

/* fixed_g1/g2(base, scalars_le, window, threads) -> [k_i * base] in the kernel's point layout.
 * base: one point in that layout, not infinity (the caller's generator; not checked on the curve). */
static PyObject *fixed_impl(PyObject *args, int g2) {
    Py_buffer pb, sb;
    int c, nt;
    if (!PyArg_ParseTuple(args, "y*y*ii", &pb, &sb, &c, &nt)) return NULL;
    size_t psz = g2 ? 128 : 64;
    PyObject *res = NULL;
    if ((size_t)pb.len != psz || point_is_zero(pb.buf, psz) || sb.len % 32 || c < 1 || c > 16 || nt < 1) {
        PyErr_SetString(PyExc_ValueError, "fixed-base: one non-infinity base point, whole scalars, 1 <= window <= 16");
        goto out;
    }
    if (!all_canonical(&sb, "fixed-base scalars")) goto out;
    size_t n = (size_t)sb.len / 32;
    int nw = (254 + c - 1) / c;
    void *tab = NULL;
    int oom = 0;
    res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(psz * n));
    if (!res) goto out;
    if (!n) goto out;
    Py_BEGIN_ALLOW_THREADS
    tab = g2 ? (void *)g2_fixed_table(pb.buf, c, nw) : (void *)g1_fixed_table(pb.buf, c, nw);
    oom = !tab;
    if (tab) {
        uint8_t *o = (uint8_t *)PyBytes_AS_STRING(res);
        if (g2) {
            g2_fixjob_t j = {tab, c, nw, sb.buf, o, n, 0};
            par_range(n >= 64 ? nt : 1, (n + FIXED_CHUNK - 1) / FIXED_CHUNK, g2_fixed_chunks, &j);
            oom = j.oom;
        } else {
            g1_fixjob_t j = {tab, c, nw, sb.buf, o, n, 0};
            par_range(n >= 64 ? nt : 1, (n + FIXED_CHUNK - 1) / FIXED_CHUNK, g1_fixed_chunks, &j);
            oom = j.oom;
        }
    }
    Py_END_ALLOW_THREADS
    free(tab);
    if (oom) { Py_CLEAR(res); PyErr_NoMemory(); goto out; }
out:
    PyBuffer_Release(&pb); PyBuffer_Release(&sb);
    return res;
}

/* unpack_points(buf, g2) -> [None | (x, y)] (G2: ((x0, x1), (y0, y1))), standard-form ints: the kernel
 * layout decoded without a Python multiplication per coordinate. */
static PyObject *fp_pylong(const uint8_t *b) {
    fp m, s;
    uint8_t o[32];
    memcpy(m.v, b, 32);
    fp_from_mont(&s, &m);
    memcpy(o, s.v, 32);
    return _PyLong_FromByteArray(o, 32, 1, 0);
}

static PyObject *py_unpack_points(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer pb;
    int g2;
    if (!PyArg_ParseTuple(args, "y*p", &pb, &g2)) return NULL;
    size_t psz = g2 ? 128 : 64;
    PyObject *res = NULL;
    if ((size_t)pb.len % psz) { PyErr_SetString(PyExc_ValueError, "unpack_points: not a whole number of points"); goto out; }
    size_t n = (size_t)pb.len / psz;
    res = PyList_New((Py_ssize_t)n);
    if (!res) goto out;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *b = (const uint8_t *)pb.buf + psz * i;
        PyObject *pt;
        if (point_is_zero(b, psz)) { pt = Py_None; Py_INCREF(pt); }
        else if (!g2) pt = Py_BuildValue("(NN)", fp_pylong(b), fp_pylong(b + 32));
        else pt = Py_BuildValue("((NN)(NN))", fp_pylong(b), fp_pylong(b + 32), fp_pylong(b + 64), fp_pylong(b + 96));
        if (!pt) { Py_CLEAR(res); goto out; }
        PyList_SET_ITEM(res, (Py_ssize_t)i, pt);
    }
out:
    PyBuffer_Release(&pb);
    return res;
}

/* coeff_section(a_entries, b_entries, n_vars, domain_size) -> the .zkey section 4 entries (after the
 * count): per entry u32 matrix (0 = A, 1 = B), u32 row, u32 signal, the coefficient times R^2 mod r
 * (32 bytes LE), ordered by row with A before B in a row and list order otherwise (a stable counting
 * sort: zkey_new.js's order). Coefficients must be canonical; ValueError names the first bad entry
 * with prover/zkey.py's messages. */
typedef struct { uint32_t row, sig; fr v; } centry_t;

static int coeff_parse(PyObject *seq, uint32_t m, size_t nv, size_t dom, centry_t *out) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t e = 0; e < n; e++) {
        PyObject *it = items[e];
        if (!PyTuple_Check(it) || PyTuple_GET_SIZE(it) != 3) {
            PyErr_Format(PyExc_ValueError, "coefficient %zd of matrix %u is not a (row, signal, value) tuple", e, m);
            return -1;
        }
        Py_ssize_t row = PyLong_AsSsize_t(PyTuple_GET_ITEM(it, 0)), sig = PyLong_AsSsize_t(PyTuple_GET_ITEM(it, 1));
        if ((row == -1 || sig == -1) && PyErr_Occurred()) return -1;
        if (row < 0 || (size_t)row >= dom) {
            PyErr_Format(PyExc_ValueError, "coefficient row %zd outside the domain of size %zu", row, dom);
            return -1;
        }
        if (sig < 0 || (size_t)sig >= nv) {
            PyErr_Format(PyExc_ValueError, "coefficient signal %zd out of range [0, %zu)", sig, nv);
            return -1;
        }
        PyObject *v = PyTuple_GET_ITEM(it, 2);
        uint8_t b[32];
        int ok = PyLong_Check(v);
#if PY_VERSION_HEX >= 0x030D0000
        if (ok) {
            Py_ssize_t need = PyLong_AsNativeBytes(v, b, 32, Py_ASNATIVEBYTES_LITTLE_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER |
                                                                 Py_ASNATIVEBYTES_REJECT_NEGATIVE);
            ok = need >= 0 && need <= 32;
        }
#else
        if (ok) ok = _PyLong_AsByteArray((PyLongObject *)v, b, 32, 1, 0) == 0;
#endif
        if (ok) ok = fr_bytes_canonical(b);
        if (!ok) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "coefficient (%zd, %zd) is not a canonical field element", row, sig);
            return -1;
        }
        out[e].row = (uint32_t)row;
        out[e].sig = (uint32_t)sig;
        fr_load_std(&out[e].v, b);
    }
    return 0;
}

static PyObject *py_coeff_section(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ao, *bo, *as = NULL, *bs = NULL, *res = NULL;
    Py_ssize_t nv, dom;
    if (!PyArg_ParseTuple(args, "OOnn", &ao, &bo, &nv, &dom)) return NULL;
    centry_t *ent = NULL;
    size_t *start = NULL;
    if (nv < 0 || dom < 0 || dom > ((Py_ssize_t)1 << 30)) { PyErr_SetString(PyExc_ValueError, "coeff_section: bad sizes"); return NULL; }
    as = PySequence_Fast(ao, "coeff_section: A entries must be a sequence");
    bs = as ? PySequence_Fast(bo, "coeff_section: B entries must be a sequence") : NULL;
    if (!as || !bs) goto out;
    size_t na = (size_t)PySequence_Fast_GET_SIZE(as), nb = (size_t)PySequence_Fast_GET_SIZE(bs), n = na + nb;
    ent = malloc((n + 1) * sizeof *ent);
    start = calloc(2 * (size_t)dom + 1, sizeof *start);
    if (!ent || !start) { PyErr_NoMemory(); goto out; }
    if (coeff_parse(as, 0, (size_t)nv, (size_t)dom, ent) < 0 || coeff_parse(bs, 1, (size_t)nv, (size_t)dom, ent + na) < 0) goto out;
    for (size_t i = 0; i < n; i++) start[2 * (size_t)ent[i].row + (i >= na) + 1]++;
    for (size_t k = 1; k <= 2 * (size_t)dom; k++) start[k] += start[k - 1];
    res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(44 * n));
    if (!res) goto out;
    uint8_t *o = (uint8_t *)PyBytes_AS_STRING(res);
    fr r2;
    memcpy(r2.v, R_R2, 32);
    for (size_t i = 0; i < n; i++) {
        uint32_t m = i >= na;
        size_t at = start[2 * (size_t)ent[i].row + m]++;
        uint8_t *p = o + 44 * at;
        fr v;
        fr_mul(&v, &ent[i].v, &r2); /* v R * R^2 / R = v R^2 */
        memcpy(p, &m, 4); memcpy(p + 4, &ent[i].row, 4); memcpy(p + 8, &ent[i].sig, 4);
        memcpy(p + 12, v.v, 32);
    }
out:
    free(ent); free(start);
    Py_XDECREF(as); Py_XDECREF(bs);
    return res;
}
