/*
 * libaugur_nvtx_probe.so, for the tests only: an NVTX tool. A process started with
 * NVTX_INJECTION64_PATH naming this library loads it at its first NVTX call, as it would load
 * Nsight Systems' own. It takes the domain calls Augur makes (io.augur.backend.cuda.Nvtx) and
 * writes one line per call to the file named by AUGUR_NVTX_PROBE_OUT:
 *   domain <name>
 *   push <domain> <thread> <name> <argb, hex>
 *   pop <domain> <thread>
 *   mark <domain> <thread> <name> <argb, hex>
 * where <thread> numbers the threads in the order of their first event. NvtxTest reads it.
 * Built by scripts/build-native.sh where the toolkit's nvtx3/ headers are.
 */
#include <nvtx3/nvToolsExt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nvtxDomainRegistration_st {
  char name[128];
};
struct nvtxStringRegistration_st {
  char text[256];
};

static FILE* out;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int threads;
static __thread int thread_id;

/* Called with the lock held. */
static int this_thread(void) {
  if (thread_id == 0) thread_id = ++threads;
  return thread_id;
}

static const char* message(const nvtxEventAttributes_t* a) {
  if (a == NULL) return "(no attributes)";
  switch (a->messageType) {
    case NVTX_MESSAGE_TYPE_ASCII: return a->message.ascii;
    case NVTX_MESSAGE_TYPE_REGISTERED: return a->message.registered != NULL ? a->message.registered->text : "(null handle)";
    default: return "(other message type)";
  }
}

static void event(const char* what, nvtxDomainHandle_t d, const nvtxEventAttributes_t* a) {
  pthread_mutex_lock(&lock);
  if (a != NULL) fprintf(out, "%s %s %d %s %08x\n", what, d != NULL ? d->name : "(default)", this_thread(), message(a), a->color);
  else fprintf(out, "%s %s %d\n", what, d != NULL ? d->name : "(default)", this_thread());
  fflush(out);
  pthread_mutex_unlock(&lock);
}

static nvtxDomainHandle_t domain_create(const char* name) {
  nvtxDomainHandle_t d = calloc(1, sizeof *d);
  if (d == NULL) return NULL;
  snprintf(d->name, sizeof d->name, "%s", name);
  pthread_mutex_lock(&lock);
  fprintf(out, "domain %s\n", d->name);
  fflush(out);
  pthread_mutex_unlock(&lock);
  return d;
}

static nvtxStringHandle_t register_string(nvtxDomainHandle_t d, const char* text) {
  (void)d;
  nvtxStringHandle_t s = calloc(1, sizeof *s);
  if (s != NULL) snprintf(s->text, sizeof s->text, "%s", text);
  return s;
}

static int range_push(nvtxDomainHandle_t d, const nvtxEventAttributes_t* a) {
  event("push", d, a);
  return 0;
}

static int range_pop(nvtxDomainHandle_t d) {
  event("pop", d, NULL);
  return 0;
}

static void mark(nvtxDomainHandle_t d, const nvtxEventAttributes_t* a) { event("mark", d, a); }

static int set(NvtxFunctionTable table, unsigned size, unsigned id, NvtxFunctionPointer f) {
  if (id >= size || table[id] == NULL) return 0;
  *table[id] = f;
  return 1;
}

int InitializeInjectionNvtx2(NvtxGetExportTableFunc_t get_export_table) {
  const char* path = getenv("AUGUR_NVTX_PROBE_OUT");
  if (path == NULL || (out = fopen(path, "w")) == NULL) return 0;
  const NvtxExportTableCallbacks* callbacks = (const NvtxExportTableCallbacks*)get_export_table(NVTX_ETID_CALLBACKS);
  NvtxFunctionTable table = NULL;
  unsigned size = 0;
  if (callbacks == NULL || !callbacks->GetModuleFunctionTable(NVTX_CB_MODULE_CORE2, &table, &size) || table == NULL) return 0;
  return set(table, size, NVTX_CBID_CORE2_DomainCreateA, (NvtxFunctionPointer)domain_create) &&
         set(table, size, NVTX_CBID_CORE2_DomainRegisterStringA, (NvtxFunctionPointer)register_string) &&
         set(table, size, NVTX_CBID_CORE2_DomainRangePushEx, (NvtxFunctionPointer)range_push) &&
         set(table, size, NVTX_CBID_CORE2_DomainRangePop, (NvtxFunctionPointer)range_pop) &&
         set(table, size, NVTX_CBID_CORE2_DomainMarkEx, (NvtxFunctionPointer)mark);
}
