/* Python's object arenas on transparent huge pages.
 *
 * use_huge_pages() installs an arena allocator (PyObject_SetArenaAllocator) that cuts
 * the arenas of Python's small-object allocator out of 64 MiB regions aligned on 2 MiB
 * and marked MADV_HUGEPAGE, instead of one mmap per arena. A large build holds GiBs of
 * small objects visited in an order unrelated to where they lie: with 4 KiB pages,
 * every page is a fault to take and a TLB entry to miss (docs/performance.md, "Huge
 * pages for the heap"). CPython 3.15 does the same for its arenas when configured
 * with --with-pymalloc-hugepages (gh-144319), with MAP_HUGETLB; transparent huge pages
 * need no reserved pool and fall back to 4 KiB pages by themselves (no SIGBUS when
 * there are none to have, after a fork included).
 *
 * Only requests of exactly one arena's size are served here: the interpreter also
 * asks the arena allocator for its frames' stack chunks, of other sizes, which go to
 * (and come back through) the previous allocator, as do arenas made before the call.
 * Arenas Python frees are kept for reuse: their pages stay the process's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <sys/mman.h>

#ifdef MADV_HUGEPAGE /* Linux: elsewhere the module is built and installs nothing */

#define HUGE ((size_t)2 << 20)
#define REGION ((size_t)64 << 20)
#define MAX_REGIONS 4096 /* 256 GiB of arenas: beyond, the previous allocator */

static PyObjectArenaAllocator previous;
static int installed;
static char *cur, *end;
static char *regions[MAX_REGIONS];
static int nregions;
static void *free_arenas; /* freed arenas of ours, linked through their first word */
/* pymalloc's arena on 64-bit builds since 3.10 (ARENA_BITS 20, with the radix tree) */
#define ARENA ((size_t)1 << 20)

static int ours(void *p)
{
    for (int i = nregions - 1; i >= 0; i--)
        if ((char *)p >= regions[i] && (char *)p < regions[i] + REGION)
            return 1;
    return 0;
}

static void *alloc(void *ctx, size_t size)
{
    (void)ctx;
    if (size != ARENA)
        return previous.alloc(previous.ctx, size);
    if (free_arenas != NULL) {
        void *p = free_arenas;
        free_arenas = *(void **)p;
        return p;
    }
    if (cur == NULL || (size_t)(end - cur) < size) {
        if (nregions == MAX_REGIONS)
            return previous.alloc(previous.ctx, size);
        /* reserve one huge page more, to start on a 2 MiB boundary */
        char *raw = mmap(NULL, REGION + HUGE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (raw == MAP_FAILED)
            return previous.alloc(previous.ctx, size);
        char *start = (char *)(((uintptr_t)raw + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
        if (start > raw)
            munmap(raw, (size_t)(start - raw));
        if (start + REGION < raw + REGION + HUGE)
            munmap(start + REGION, (size_t)(raw + REGION + HUGE - (start + REGION)));
        madvise(start, REGION, MADV_HUGEPAGE);
        regions[nregions++] = start;
        cur = start;
        end = start + REGION;
    }
    void *p = cur;
    cur += size;
    return p;
}

static void release(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (size == ARENA && ours(ptr)) {
        *(void **)ptr = free_arenas;
        free_arenas = ptr;
        return;
    }
    previous.free(previous.ctx, ptr, size);
}

#endif

/* True once installed; False where the system has no transparent huge pages */
static PyObject *use_huge_pages(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
#ifdef MADV_HUGEPAGE
    if (!installed) {
        PyObjectArenaAllocator mine = {NULL, alloc, release};
        PyObject_GetArenaAllocator(&previous);
        PyObject_SetArenaAllocator(&mine);
        installed = 1;
    }
    Py_RETURN_TRUE;
#else
    Py_RETURN_FALSE;
#endif
}

static PyMethodDef methods[] = {
    {"use_huge_pages", use_huge_pages, METH_NOARGS,
     "Put Python's object arenas on transparent huge pages from now on (idempotent)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_heap", "Python's object arenas on transparent huge pages.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__heap(void) { return PyModule_Create(&module); }
