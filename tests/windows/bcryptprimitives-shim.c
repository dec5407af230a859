/*
 * TEST-ONLY stand-in for Windows' bcryptprimitives.dll, for running the
 * cross-built .exe under Debian 12's Wine 8.0, which lacks this DLL.
 * Rust's standard library draws its random numbers (HashMap keys,
 * getrandom) from ProcessPrng in bcryptprimitives.dll on Windows 10 and
 * later; every real Windows has it. scripts/test-windows.sh builds this
 * with mingw and puts it beside the test's own copy of the .exe only. It
 * is never part of the product, its packages or its installer.
 *
 * ProcessPrng is answered from RtlGenRandom (exported by advapi32 as
 * SystemFunction036), Wine's own system random source. It fills the
 * buffer in chunks because RtlGenRandom takes a 32-bit length.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)inst;
    (void)reason;
    (void)reserved;
    return TRUE;
}
