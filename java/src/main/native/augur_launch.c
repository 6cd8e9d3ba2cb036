/*
 * libaugur_launch.so: what the Java side needs from C and JCuda does not bind.
 *  - cuLaunchKernelEx (io.augur.backend.cuda.NativeLaunch), for one launch attribute,
 *    CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION (programmatic dependent launch, compute
 *    capability 9.0), and cuOccupancyMaxActiveClusters (how many clusters of a kernel compiled with
 *    __cluster_dims__ the device holds at once). The driver is found at run time (dlopen of
 *    libcuda.so.1, the library JCuda has already loaded), so this part builds without the CUDA
 *    toolkit: the two structs are cuda.h's layout.
 *  - NVTX ranges in the domain "augur" (io.augur.backend.cuda.Nvtx), for Nsight Systems' timeline
 *    and Nsight Compute's range filters. NVTX 3 is header-only (the toolkit's nvtx3/): a tool that
 *    profiles the process names its library in NVTX_INJECTION64_PATH, which the first NVTX call
 *    loads; without one every call returns at once. Built with AUGUR_NVTX where the headers are.
 * Built by scripts/build-native.sh with the C compiler and the JDK's jni.h.
 */
#include <dlfcn.h>
#include <jni.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GLIBC__) && defined(__x86_64__)
/*
 * glibc 2.34 moved dlopen, dlsym and dlclose into libc.so.6 under the symbol version GLIBC_2.34, so a
 * library linked on a newer system would not load on a GPU box with an older glibc (the JVM would
 * refuse it, and every launch would go out the plain way). GLIBC_2.2.5 is the version every
 * x86-64 glibc has: libdl.so.2 defines it before 2.34, libc.so.6 keeps it from 2.34 on.
 * build-native.sh checks that nothing newer than GLIBC_2.17 is needed.
 */
__asm__(".symver dlopen,dlopen@GLIBC_2.2.5");
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
__asm__(".symver dlclose,dlclose@GLIBC_2.2.5"); /* NVTX's loader calls it */
#endif

typedef struct {
  int id;
  char pad[4];
  union {
    char bytes[64];
    int value;
  } value;
} launch_attribute;

typedef struct {
  unsigned grid_x, grid_y, grid_z, block_x, block_y, block_z, shared;
  void* stream;
  launch_attribute* attrs;
  unsigned attr_count;
} launch_config;

_Static_assert(sizeof(launch_attribute) == 72, "cuda.h's CUlaunchAttribute is 72 bytes");
_Static_assert(sizeof(launch_config) == 56, "cuda.h's CUlaunchConfig is 56 bytes");

enum { ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6, MAX_PARAMS = 64 };

#ifdef AUGUR_CUDA_H
/* Where the CUDA toolkit is on the build machine, build-native.sh compiles against its cuda.h too. */
#include <cuda.h>
_Static_assert(sizeof(CUlaunchAttribute) == sizeof(launch_attribute) && offsetof(CUlaunchAttribute, value) == offsetof(launch_attribute, value),
               "CUlaunchAttribute's layout");
_Static_assert(sizeof(CUlaunchConfig) == sizeof(launch_config) && offsetof(CUlaunchConfig, sharedMemBytes) == offsetof(launch_config, shared) &&
                   offsetof(CUlaunchConfig, hStream) == offsetof(launch_config, stream) &&
                   offsetof(CUlaunchConfig, attrs) == offsetof(launch_config, attrs) &&
                   offsetof(CUlaunchConfig, numAttrs) == offsetof(launch_config, attr_count),
               "CUlaunchConfig's layout");
_Static_assert((int)CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION == (int)ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION,
               "the programmatic stream serialization attribute's id");
#endif

typedef int (*launch_ex_fn)(const launch_config*, void*, void**, void**);
static launch_ex_fn launch_ex;
typedef int (*max_clusters_fn)(int*, void*, const launch_config*);
static max_clusters_fn max_clusters;

/* 0 when cuLaunchKernelEx was found; 1 no libcuda.so.1; 2 a driver without cuLaunchKernelEx. */
JNIEXPORT jint JNICALL Java_io_augur_backend_cuda_NativeLaunch_bind(JNIEnv* env, jclass cls) {
  (void)env;
  (void)cls;
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (lib == NULL) lib = dlopen("libcuda.so.1", RTLD_NOW);
  if (lib == NULL) return 1;
  launch_ex = (launch_ex_fn)dlsym(lib, "cuLaunchKernelEx");
  max_clusters = (max_clusters_fn)dlsym(lib, "cuOccupancyMaxActiveClusters");
  return launch_ex != NULL ? 0 : 2;
}

/*
 * cuOccupancyMaxActiveClusters(function, grid (gx, 1, 1), block (bx, 1, 1), shared bytes): the
 * clusters of the function's compiled cluster size that the device holds at once with that much
 * dynamic shared memory a block (the function's dynamic shared limit raised first). A cluster's
 * blocks must share one GPC, so this can be fewer than the multiprocessors' blocks divided by the
 * cluster size. Returns the count, -1 where the driver has no such function (before CUDA 11.8),
 * or -2 - CUresult where it refused.
 */
JNIEXPORT jint JNICALL Java_io_augur_backend_cuda_NativeLaunch_activeClusters(JNIEnv* env, jclass cls, jlong function, jint gx, jint bx,
                                                                              jint shared) {
  (void)env;
  (void)cls;
  if (max_clusters == NULL) return -1;
  launch_config config;
  memset(&config, 0, sizeof config);
  config.grid_x = (unsigned)gx;
  config.grid_y = 1;
  config.grid_z = 1;
  config.block_x = (unsigned)bx;
  config.block_y = 1;
  config.block_z = 1;
  config.shared = (unsigned)shared;
  int n = 0;
  const int r = max_clusters(&n, (void*)(intptr_t)function, &config);
  return r == 0 ? n : -2 - r;
}

/*
 * cuLaunchKernelEx(function, grid (gx, gy, 1), block (bx, by, 1), shared bytes, stream), the
 * kernel's parameters being `count` values in the direct buffer `values`, parameter k at byte
 * offsets[k]; with programmatic != 0 the launch carries the programmatic-serialization attribute.
 * Returns the CUresult (-1 for arguments this wrapper refuses).
 */
JNIEXPORT jint JNICALL Java_io_augur_backend_cuda_NativeLaunch_launch(JNIEnv* env, jclass cls, jlong function, jlong stream, jint gx, jint gy,
                                                                      jint bx, jint by, jint shared, jobject values, jintArray offsets,
                                                                      jint count, jboolean programmatic) {
  (void)cls;
  if (launch_ex == NULL || count < 0 || count > MAX_PARAMS) return -1;
  char* base = (char*)(*env)->GetDirectBufferAddress(env, values);
  if (base == NULL && count > 0) return -1;
  jint at[MAX_PARAMS];
  if (count > 0) (*env)->GetIntArrayRegion(env, offsets, 0, count, at);
  if ((*env)->ExceptionCheck(env)) return -1;
  void* params[MAX_PARAMS];
  for (int k = 0; k < count; ++k) params[k] = base + at[k];
  launch_attribute attr;
  memset(&attr, 0, sizeof attr);
  attr.id = ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
  attr.value.value = 1;
  launch_config config;
  memset(&config, 0, sizeof config);
  config.grid_x = (unsigned)gx;
  config.grid_y = (unsigned)gy;
  config.grid_z = 1;
  config.block_x = (unsigned)bx;
  config.block_y = (unsigned)by;
  config.block_z = 1;
  config.shared = (unsigned)shared;
  config.stream = (void*)(intptr_t)stream;
  config.attrs = programmatic ? &attr : NULL;
  config.attr_count = programmatic ? 1u : 0u;
  return launch_ex(&config, (void*)(intptr_t)function, params, NULL);
}

/* ---------------------------------------------------------------- NVTX (io.augur.backend.cuda.Nvtx) */

#ifdef AUGUR_NVTX
#include <nvtx3/nvToolsExt.h>

static nvtxDomainHandle_t domain;

/* 1: built with NVTX, and the domain "augur" made (the first NVTX call: a profiler's library loads here). */
JNIEXPORT jint JNICALL Java_io_augur_backend_cuda_Nvtx_open(JNIEnv* env, jclass cls) {
  (void)env;
  (void)cls;
  domain = nvtxDomainCreateA("augur");
  return 1;
}

/* The tool's handle for a name pushed often (0 where no tool is attached, which push then ignores). */
JNIEXPORT jlong JNICALL Java_io_augur_backend_cuda_Nvtx_registerName(JNIEnv* env, jclass cls, jstring name) {
  (void)cls;
  const char* s = (*env)->GetStringUTFChars(env, name, NULL);
  if (s == NULL) return 0;
  nvtxStringHandle_t h = nvtxDomainRegisterStringA(domain, s);
  (*env)->ReleaseStringUTFChars(env, name, s);
  return (jlong)(intptr_t)h;
}

static nvtxEventAttributes_t attributes(jint argb) {
  nvtxEventAttributes_t a;
  memset(&a, 0, sizeof a);
  a.version = NVTX_VERSION;
  a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  a.colorType = NVTX_COLOR_ARGB;
  a.color = (uint32_t)argb;
  return a;
}

JNIEXPORT void JNICALL Java_io_augur_backend_cuda_Nvtx_pushRegistered(JNIEnv* env, jclass cls, jlong name, jint argb) {
  (void)env;
  (void)cls;
  nvtxEventAttributes_t a = attributes(argb);
  a.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
  a.message.registered = (nvtxStringHandle_t)(intptr_t)name;
  nvtxDomainRangePushEx(domain, &a);
}

/* A range or a mark named by a string used once or rarely (an epoch's number, a step's key). */
static void named(JNIEnv* env, jstring name, jint argb, int mark) {
  const char* s = (*env)->GetStringUTFChars(env, name, NULL);
  if (s == NULL) return;
  nvtxEventAttributes_t a = attributes(argb);
  a.messageType = NVTX_MESSAGE_TYPE_ASCII;
  a.message.ascii = s;
  if (mark) nvtxDomainMarkEx(domain, &a);
  else nvtxDomainRangePushEx(domain, &a);
  (*env)->ReleaseStringUTFChars(env, name, s);
}

JNIEXPORT void JNICALL Java_io_augur_backend_cuda_Nvtx_pushNamed(JNIEnv* env, jclass cls, jstring name, jint argb) {
  (void)cls;
  named(env, name, argb, 0);
}

JNIEXPORT void JNICALL Java_io_augur_backend_cuda_Nvtx_markNamed(JNIEnv* env, jclass cls, jstring name, jint argb) {
  (void)cls;
  named(env, name, argb, 1);
}

JNIEXPORT void JNICALL Java_io_augur_backend_cuda_Nvtx_pop(JNIEnv* env, jclass cls) {
  (void)env;
  (void)cls;
  nvtxDomainRangePop(domain);
}

#else
/* Built without the nvtx3 headers: open says so, and Java calls nothing else. */
JNIEXPORT jint JNICALL Java_io_augur_backend_cuda_Nvtx_open(JNIEnv* env, jclass cls) {
  (void)env;
  (void)cls;
  return 0;
}
#endif
