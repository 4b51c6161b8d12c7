#!/usr/bin/env bash
# Self-host the site's JavaScript: MathJax 3, require.js and the ipywidgets HTML manager,
# taken from the npm registry at build time (not committed), so pages work with no CDN.
# `fetch-assets.sh --axe DIR` instead fetches axe-core (for the accessibility test only; it is
# not part of the site) into DIR/axe.min.js.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "${1:-}" = "--axe" ]; then
  dest=${2:-node_modules/axe-core}
  (cd "$tmp" && npm pack --silent axe-core@4.14.1 >/dev/null && tar xzf axe-core-4.14.1.tgz)
  mkdir -p "$dest" && cp "$tmp"/package/axe.min.js "$tmp"/package/LICENSE "$dest/"
  echo "axe-core 4.14.1: $dest/axe.min.js"
  exit 0
fi
dest=${1:-assets/vendor}
(cd "$tmp" && npm pack --silent mathjax@3.2.2 requirejs@2.3.8 @jupyter-widgets/html-manager@1.0.15 >/dev/null)
rm -rf "$dest" && mkdir -p "$dest/mathjax" "$dest/html-manager"
for pkg in "$tmp"/*.tgz; do mkdir -p "${pkg%.tgz}" && tar xzf "$pkg" -C "${pkg%.tgz}"; done
mj="$tmp"/mathjax-3.2.2/package/es5
cp "$mj/tex-chtml.js" "$dest/mathjax/"
cp -r "$mj/input" "$mj/ui" "$mj/a11y" "$mj/adaptors" "$dest/mathjax/"
mkdir -p "$dest/mathjax/output" && cp -r "$mj/output/chtml" "$mj/output/chtml.js" "$dest/mathjax/output/"
cp "$tmp"/requirejs-2.3.8/package/require.js "$dest/require.js"
cp -r "$tmp"/jupyter-widgets-html-manager-1.0.15/package/dist/. "$dest/html-manager/"
echo "assets: $(du -sh "$dest" | cut -f1) in $dest"
