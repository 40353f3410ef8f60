#!/usr/bin/env python3
"""Every `unsafe { ... }` block in backend/ has a `// SAFETY:` comment: on its line, in the comment
lines right above it, or above the statement it continues. Prints the blocks without one and
exits 1 if there are any (the house style: say why each unsafe block is sound).

    scripts/check-safety-comments.py
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
bad=[]
for p in sorted((ROOT / 'backend').rglob('*.rs')):
    if 'target' in p.parts: continue
    lines=p.read_text().splitlines()
    for i,l in enumerate(lines):
        if re.search(r'\bunsafe\s*\{',l):
            if 'SAFETY' in l: continue
            j=i-1; ok=False
            # walk up through comment lines directly above
            while j>=0 and lines[j].strip().startswith('//'):
                if 'SAFETY' in lines[j]: ok=True
                j-=1
            # statement continuation: previous code line without terminator, then its comments
            if not ok and j>=0 and not re.search(r'[;{}]\s*$',lines[j]) and lines[j].strip():
                k=j
                while k>=0 and not re.search(r'[;{}]\s*$',lines[k-1]) and lines[k-1].strip() and not lines[k-1].strip().startswith('//'): k-=1
                k-=1
                while k>=0 and lines[k].strip().startswith('//'):
                    if 'SAFETY' in lines[k]: ok=True
                    k-=1
            if not ok: bad.append(f"{p.relative_to(ROOT)}:{i+1}: {l.strip()[:90]}")
print('\n'.join(bad))
print(f"check-safety-comments: {len(bad)} unsafe block(s) without a SAFETY comment")
sys.exit(1 if bad else 0)
