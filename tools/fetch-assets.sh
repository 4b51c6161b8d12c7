#!/usr/bin/env bash
# Self-host the site's JavaScript: MathJax 3, require.js and the ipywidgets HTML manager,
# taken from the npm registry at build time (not committed), so pages work with no CDN.
set -euo pipefail
dest=${1:-assets/vendor}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
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
