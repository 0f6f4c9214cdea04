// Icons made by script, like the pages' own <svg><use href="#i-…"> in
// HTML: decorative (hidden from screen readers, never focused) and sized
// by the .icon class.

const SVG = 'http://www.w3.org/2000/svg';

function base(className) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', className ? `icon ${className}` : 'icon');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  return svg;
}

// spriteIcon shows the page's sprite symbol id (e.g. 'i-video').
export function spriteIcon(id, className) {
  const svg = base(className);
  const use = document.createElementNS(SVG, 'use');
  use.setAttribute('href', `#${id}`);
  svg.append(use);
  return svg;
}

// pathIcon draws the path d on a 24x24 grid, for an icon the page's
// sprite does not have.
export function pathIcon(d, className) {
  const svg = base(className);
  svg.setAttribute('viewBox', '0 0 24 24');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', d);
  svg.append(path);
  return svg;
}
