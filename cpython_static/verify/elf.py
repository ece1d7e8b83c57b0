"""Just enough ELF to answer "is this binary static, and for which CPU?".

Pure Python on purpose: the verifier must judge binaries for any target on any host,
and ``readelf``/``file`` are neither always installed nor stable in their output.
Only the ELF header, the program headers and the dynamic segment are read; section
headers are consulted solely to detect truncation, because a stripped or truncated
file is exactly what a verifier must not wave through.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

__all__ = ["ElfError", "ElfInfo", "read_elf", "parse_elf"]

_MAGIC = b"\x7fELF"

# e_ident indices and values
_EI_CLASS, _EI_DATA = 4, 5
_ELFCLASS32, _ELFCLASS64 = 1, 2
_ELFDATA2LSB, _ELFDATA2MSB = 1, 2

# p_type values
_PT_LOAD, _PT_DYNAMIC, _PT_INTERP = 1, 2, 3
_PT_GNU_STACK, _PT_GNU_RELRO = 0x6474E551, 0x6474E552
PF_X = 0x1

# d_tag values
_DT_NULL, _DT_NEEDED, _DT_STRTAB, _DT_STRSZ = 0, 1, 5, 10

# e_phnum escape: the real count then lives in section header 0's sh_info.
_PN_XNUM = 0xFFFF

_E_TYPES = {0: "NONE", 1: "REL", 2: "EXEC", 3: "DYN", 4: "CORE"}

# Names follow the architecture part of zig/LLVM target triples, so that
# "{machine}-linux-musl" is a target the build engine understands.
_MACHINES_FIXED = {
    3: "x86",
    40: "arm",
    62: "x86_64",
    258: "loongarch64",
}


def _machine_name(e_machine: int, is64: bool, little: bool) -> str:
    """Triple-style architecture name; endianness and word size refine some of them."""
    if e_machine in _MACHINES_FIXED:
        name = _MACHINES_FIXED[e_machine]
        return name + ("eb" if name == "arm" and not little else "")
    if e_machine == 183:  # EM_AARCH64
        return "aarch64" if little else "aarch64_be"
    if e_machine == 243:  # EM_RISCV
        return "riscv64" if is64 else "riscv32"
    if e_machine == 8:  # EM_MIPS
        return ("mips64" if is64 else "mips") + ("el" if little else "")
    if e_machine in (20, 21):  # EM_PPC, EM_PPC64
        return ("powerpc64" if is64 else "powerpc") + ("le" if little else "")
    if e_machine == 22:  # EM_S390
        return "s390x" if is64 else "s390"
    if e_machine == 43:  # EM_SPARCV9
        return "sparc64"
    return f"EM_{e_machine}"


class ElfError(ValueError):
    """The file is not ELF, is cut short, or its headers contradict themselves."""


@dataclass(frozen=True)
class _Segment:
    p_type: int
    offset: int
    vaddr: int
    filesz: int
    flags: int = 0


@dataclass
class ElfInfo:
    machine: str
    bits: int
    endian: str  # "little" | "big"
    elf_type: str  # "EXEC", "DYN" (PIE or shared object), …
    interpreter: str | None
    needed: list[str] = field(default_factory=list)
    has_dynamic: bool = False
    # PT_GNU_STACK's flags (None: no such header, which some kernels take as an
    # executable stack) and whether a PT_GNU_RELRO makes data read-only after start-up.
    stack_flags: int | None = None
    relro: bool = False

    @property
    def is_static(self) -> bool:
        # A static-PIE (musl -static-pie) keeps a PT_DYNAMIC for self-relocation, so
        # the dynamic segment alone proves nothing; a loader or a needed library does.
        return self.interpreter is None and not self.needed


class _Reader:
    """Bounds-checked random access; every short read becomes an ElfError naming the field."""

    def __init__(self, fh: BinaryIO, size: int):
        self._fh, self.size = fh, size

    def read(self, offset: int, length: int, what: str) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ElfError(
                f"truncated ELF: {what} needs bytes {offset}..{offset + length} but the file has {self.size}"
            )
        self._fh.seek(offset)
        data = self._fh.read(length)
        if len(data) != length:
            raise ElfError(f"truncated ELF: short read of {what} at offset {offset}")
        return data


class _Parser:
    def __init__(self, reader: _Reader):
        self.r = reader
        ident = reader.read(0, 16, "ELF identification") if reader.size >= 16 else b""
        if not ident.startswith(_MAGIC):
            head = ident[:4] if ident else b""
            raise ElfError(f"not an ELF file (magic {head!r}, size {reader.size} bytes)")
        if ident[_EI_CLASS] not in (_ELFCLASS32, _ELFCLASS64):
            raise ElfError(f"bad ELF class {ident[_EI_CLASS]}")
        if ident[_EI_DATA] not in (_ELFDATA2LSB, _ELFDATA2MSB):
            raise ElfError(f"bad ELF data encoding {ident[_EI_DATA]}")
        self.is64 = ident[_EI_CLASS] == _ELFCLASS64
        self.little = ident[_EI_DATA] == _ELFDATA2LSB
        self.bo = "<" if self.little else ">"
        self.addr = "Q" if self.is64 else "I"

    def unpack(self, fmt: str, offset: int, what: str) -> tuple[int, ...]:
        fmt = self.bo + fmt
        return struct.unpack(fmt, self.r.read(offset, struct.calcsize(fmt), what))

    def header(self) -> dict[str, int]:
        a = self.addr
        names = ("type machine version entry phoff shoff flags ehsize phentsize phnum shentsize shnum shstrndx").split()
        values = self.unpack(f"HHI{a}{a}{a}IHHHHHH", 16, "ELF header")
        return dict(zip(names, values))

    def section_zero_info(self, hdr: dict[str, int]) -> int:
        """sh_info of section header 0 (holds the real e_phnum when it overflowed)."""
        if hdr["shoff"] == 0:
            raise ElfError("e_phnum is PN_XNUM but there is no section header table")
        off = hdr["shoff"] + (28 if self.is64 else 24)
        return self.unpack("I", off, "section header 0 sh_info")[0]

    def check_section_table(self, hdr: dict[str, int]) -> None:
        # The section header table usually sits at the very end of the file, so its
        # presence is the cheapest reliable proof that the file was not cut short.
        if hdr["shoff"] == 0 or hdr["shnum"] == 0:
            return
        expected = 64 if self.is64 else 40
        if hdr["shentsize"] < expected:
            raise ElfError(f"section header entry size {hdr['shentsize']} < {expected}")
        self.r.read(hdr["shoff"], hdr["shentsize"] * hdr["shnum"], "section header table")

    def segments(self, hdr: dict[str, int]) -> list[_Segment]:
        count = hdr["phnum"]
        if count == _PN_XNUM:
            count = self.section_zero_info(hdr)
        if count == 0:
            return []
        expected = 56 if self.is64 else 32
        if hdr["phentsize"] < expected:
            raise ElfError(f"program header entry size {hdr['phentsize']} < {expected}")
        # One read validates that the whole table is inside the file before we loop.
        self.r.read(hdr["phoff"], hdr["phentsize"] * count, "program header table")
        out = []
        for i in range(count):
            base = hdr["phoff"] + i * hdr["phentsize"]
            if self.is64:
                p_type, flags, off, vaddr, _pa, filesz = self.unpack("IIQQQQ", base, "phdr")
            else:
                p_type, off, vaddr, _pa, filesz, _memsz, flags = self.unpack("IIIIIII", base, "phdr")
            if off + filesz > self.r.size:
                raise ElfError(
                    f"truncated ELF: segment {i} (type {p_type:#x}) ends at {off + filesz}"
                    f" but the file has {self.r.size} bytes"
                )
            out.append(_Segment(p_type, off, vaddr, filesz, flags))
        return out

    def interpreter(self, seg: _Segment) -> str:
        raw = self.r.read(seg.offset, seg.filesz, "PT_INTERP")
        return raw.split(b"\0", 1)[0].decode("utf-8", "backslashreplace")

    def dynamic_entries(self, seg: _Segment) -> list[tuple[int, int]]:
        fmt = "qQ" if self.is64 else "iI"
        size = struct.calcsize(self.bo + fmt)
        entries = []
        for off in range(seg.offset, seg.offset + seg.filesz - size + 1, size):
            tag, val = self.unpack(fmt, off, "dynamic entry")
            if tag == _DT_NULL:
                break
            entries.append((tag, val))
        return entries

    @staticmethod
    def vaddr_to_offset(vaddr: int, loads: list[_Segment]) -> int:
        for seg in loads:
            if seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
                return vaddr - seg.vaddr + seg.offset
        raise ElfError(f"dynamic string table address {vaddr:#x} is in no PT_LOAD segment")

    def needed(self, dynamic: _Segment, loads: list[_Segment]) -> list[str]:
        entries = self.dynamic_entries(dynamic)
        wanted = [val for tag, val in entries if tag == _DT_NEEDED]
        if not wanted:
            return []
        strtab = next((val for tag, val in entries if tag == _DT_STRTAB), None)
        strsz = next((val for tag, val in entries if tag == _DT_STRSZ), None)
        if strtab is None or strsz is None:
            raise ElfError("DT_NEEDED present but DT_STRTAB/DT_STRSZ missing")
        table = self.r.read(self.vaddr_to_offset(strtab, loads), strsz, "dynamic string table")
        names = []
        for index in wanted:
            if index >= len(table):
                raise ElfError(f"DT_NEEDED name offset {index} outside string table ({strsz})")
            end = table.find(b"\0", index)
            if end < 0:
                raise ElfError(f"DT_NEEDED name at {index} is not NUL-terminated")
            names.append(table[index:end].decode("utf-8", "backslashreplace"))
        return names

    def parse(self) -> ElfInfo:
        hdr = self.header()
        self.check_section_table(hdr)
        segs = self.segments(hdr)
        interp = next((s for s in segs if s.p_type == _PT_INTERP), None)
        dynamic = next((s for s in segs if s.p_type == _PT_DYNAMIC), None)
        loads = [s for s in segs if s.p_type == _PT_LOAD]
        return ElfInfo(
            machine=_machine_name(hdr["machine"], self.is64, self.little),
            bits=64 if self.is64 else 32,
            endian="little" if self.little else "big",
            elf_type=_E_TYPES.get(hdr["type"], f"ET_{hdr['type']:#x}"),
            interpreter=self.interpreter(interp) if interp else None,
            needed=self.needed(dynamic, loads) if dynamic else [],
            has_dynamic=dynamic is not None,
            stack_flags=next((s.flags for s in segs if s.p_type == _PT_GNU_STACK), None),
            relro=any(s.p_type == _PT_GNU_RELRO for s in segs),
        )


def parse_elf(data: bytes) -> ElfInfo:
    """Parse an in-memory ELF image."""
    return _Parser(_Reader(io.BytesIO(data), len(data))).parse()


def read_elf(path: str | os.PathLike[str]) -> ElfInfo:
    """Parse the ELF file at ``path`` without loading it whole (static CPythons are big)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            return _Parser(_Reader(fh, size)).parse()
    except ElfError as exc:
        raise ElfError(f"{path}: {exc}") from None
